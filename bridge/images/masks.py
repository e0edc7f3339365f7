"""Masks painted in a browser (the image card, the library's edit) kept as files a job can read."""
from __future__ import annotations

import base64
import os
import secrets
import time

from ..paths import user_state_dir

MASK_MAX_BYTES = 16 * 1024 * 1024
MASK_KEEP_SECONDS = 7 * 24 * 3600


def save_painted_mask(data: str) -> str:
    """Write a painted mask (base64 PNG, or a data: URL) where the job can read it; its path. Older
    masks go after a week. ValueError, in words a person can act on, when it is not one."""
    try:
        raw = base64.b64decode(data.split(",", 1)[-1], validate=True)
    except ValueError:
        raise ValueError("The painted mask did not arrive intact; paint it again.") from None
    if len(raw) > MASK_MAX_BYTES or not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("The painted mask must be a PNG of at most 16 MiB.")
    folder = user_state_dir() / "masks"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("mask-*.png"):
        try:
            if now - old.stat().st_mtime > MASK_KEEP_SECONDS:
                old.unlink()
        except OSError:
            pass
    path = folder / f"mask-{secrets.token_hex(6)}.png"
    tmp = folder / f".{path.name}.tmp"
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return str(path)

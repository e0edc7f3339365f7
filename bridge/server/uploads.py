"""Images sent inside a call (base64 or a data URL) become files the job can read.

Used by both readers (``audience``): the local user may send bytes instead of paths, and a shared
server's caller must. Every refusal reads the same, whatever the cause (too large, not base64, not
an image), so an answer never tells a caller more about the server than it sent.
"""
from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from pathlib import Path

from ..errors import InputError

MAX_IMAGES = 16
KEEP_SECONDS = 24 * 3600


def refusal(label: str, limit: int) -> InputError:
    return InputError(f"{label} could not be used: send a PNG, JPEG or WebP image as base64 (at most "
                      f"{limit // 1048576} MB) or the id of an image this server made for you.")


def save(item: str, label: str, limit: int, folder: Path) -> str:
    """Decode one image sent in a call into ``folder``; its path, or InputError."""
    from ..images.sniff import read_info
    item = (item or "").strip()
    if item.startswith("data:"):
        item = item.partition(",")[2]
    if len(item) > limit * 4 // 3 + 8:
        raise refusal(label, limit)
    try:
        data = base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError):
        raise refusal(label, limit) from None
    info = read_info(data)
    if not data or len(data) > limit or info is None or info.format not in ("png", "jpeg", "webp"):
        raise refusal(label, limit)
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder)
    path = folder / f"up_{secrets.token_hex(8)}.{info.extension}"
    tmp = folder / f".{path.name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return str(path)


def check_count(images: list[str] | None) -> None:
    if images and len(images) > MAX_IMAGES:
        raise InputError(f"{len(images)} images were sent; the limit is {MAX_IMAGES}.")


def _prune(folder: Path) -> None:
    now = time.time()
    for old in folder.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_SECONDS:
                old.unlink()
        except OSError:
            pass

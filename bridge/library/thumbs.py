"""Thumbnails of recorded images, made once with Pillow (images.pillow.preview) and kept in the user
cache folder under a name derived from the file's path, size and time, so a changed file gets a
new one and nothing from a request ever names a cache file."""
from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

from ..paths import user_cache_dir

SIZES = {"grid": (320, 40_000), "large": (1024, 300_000)}  # long side, most bytes
_TYPES = {".jpg": "image/jpeg", ".webp": "image/webp"}
KEEP_SECONDS = 90 * 24 * 3600  # thumbnails not used for this long go when the library starts


def folder() -> Path:
    return user_cache_dir() / "library-thumbnails"


def thumbnail(path: str, size: str = "grid") -> tuple[bytes, str] | None:
    """(bytes, media type) of the thumbnail of ``path``, made now if not cached; None if it cannot be."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    name = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{size}".encode()).hexdigest()[:40]
    for suffix, media in _TYPES.items():
        cached = folder() / f"{name}{suffix}"
        try:
            data = cached.read_bytes()
            if time.time() - cached.stat().st_mtime > 7 * 24 * 3600:
                os.utime(cached)  # still in use: prune keeps it
            return data, media
        except OSError:
            continue
    from ..images.pillow import preview
    side, limit = SIZES[size]
    made = preview(path, side, limit)
    if made is None:
        return None
    suffix = ".webp" if made.mime_type == "image/webp" else ".jpg"
    try:
        folder().mkdir(parents=True, exist_ok=True)
        tmp = folder() / f".{name}.{secrets.token_hex(4)}.tmp"
        tmp.write_bytes(made.data)
        os.replace(tmp, folder() / f"{name}{suffix}")
    except OSError:
        pass  # served all the same; made again next time
    return made.data, made.mime_type


def prune(now: float | None = None) -> int:
    """Remove thumbnails unused for KEEP_SECONDS (and stray temp files); how many went."""
    now = now or time.time()
    gone = 0
    try:
        entries = list(os.scandir(folder()))
    except OSError:
        return 0
    for entry in entries:
        try:
            if now - entry.stat().st_mtime > (3600 if entry.name.endswith(".tmp") else KEEP_SECONDS):
                os.unlink(entry.path)
                gone += 1
        except OSError:
            continue
    return gone

"""Is an image whole and plausible? Checked before it is published, so a reader never gets half
an image, and a header that claims 100000x100000 pixels is never taken at its word.

PNG: every chunk's CRC, IHDR first, IEND last, and the image data inflates to exactly the size
IHDR announces (inflated in bounded steps and thrown away, so a 4K image costs no pixel buffer).
JPEG: start and end markers, and Pillow decodes it at 1/8 scale (a cut file fails there).
WebP: the RIFF length matches the bytes and every chunk fits. GIF: the trailer byte.
Dimensions: each side at most MAX_SIDE, at most MAX_PIXELS in all (a decompression-bomb guard).
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

from ..errors import ProtocolError
from .sniff import ImageInfo, read_info

_HEAD = 256 * 1024  # enough of the start for the format and the dimensions (JPEG SOF after EXIF)

MAX_SIDE = 16384
MAX_PIXELS = 8192 * 8192
_STEP = 1 << 20
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def check_image(source: bytes | Path, what: str = "The image") -> ImageInfo:
    """Format and dimensions from the bytes (or a file, read in pieces, never whole); raise
    ProtocolError (bad_image) unless the image is whole and plausible."""
    with (open(source, "rb") if isinstance(source, Path) else io.BytesIO(source)) as handle:
        head = handle.read(_HEAD)
        total = handle.seek(0, os.SEEK_END)
        info = read_info(head)
        if info is None:
            # Never quote the bytes: a link may have fetched something private.
            raise ProtocolError(f"{what} the relay returned is not a PNG, JPEG, WebP or GIF ({total} bytes).",
                                code="bad_image")
        if info.width > MAX_SIDE or info.height > MAX_SIDE or info.width * info.height > MAX_PIXELS:
            raise ProtocolError(f"{what} claims {info.size} pixels, beyond the limit of {MAX_SIDE} per side and "
                                f"{MAX_PIXELS // 1_000_000} megapixels; it is not taken as an image.", code="bad_image")
        handle.seek(0)
        checks = {"png": _png_problem, "jpeg": _jpeg_problem, "webp": _webp_problem, "gif": _gif_problem}
        problem = checks[info.format](handle, total)
    if problem:
        raise ProtocolError(f"{what} the relay returned is incomplete or corrupt ({info.format.upper()}: {problem}).",
                            code="bad_image")
    return info


def _png_problem(handle: BinaryIO, total: int) -> str | None:
    pos, first, ihdr, broken = 8, True, None, False
    inflater, inflated = zlib.decompressobj(), 0
    handle.seek(8)
    while True:
        header = handle.read(8)
        if len(header) < 8 or pos + 12 > total:
            return "it ends before its IEND chunk"
        length, kind = struct.unpack(">I4s", header)
        if pos + 12 + length > total:
            return f"the {kind.decode('latin-1')} chunk is cut short"
        if first and kind != b"IHDR":
            return "it does not start with IHDR"
        first = False
        crc = zlib.crc32(kind)
        left = length
        while left:
            piece = handle.read(min(left, _STEP))
            left -= len(piece)
            crc = zlib.crc32(piece, crc)
            if kind == b"IHDR":
                ihdr = piece
            elif kind == b"IDAT" and not broken:
                try:
                    pending = piece
                    while pending:
                        inflated += len(inflater.decompress(pending, _STEP))
                        pending = inflater.unconsumed_tail
                except zlib.error:
                    broken = True  # reported after the CRC, which names a damaged chunk more exactly
        if crc != struct.unpack(">I", handle.read(4))[0]:
            return f"the {kind.decode('latin-1')} chunk fails its CRC"
        if broken:
            return "its image data does not inflate"
        if kind == b"IEND":
            break
        pos += 12 + length
    try:
        while not inflater.eof:
            piece = inflater.decompress(b"", _STEP) or inflater.flush(_STEP)
            if not piece:
                break
            inflated += len(piece)
    except zlib.error:
        return "its image data does not inflate"
    if not inflater.eof:
        return "its image data stops early"
    expected = _png_data_size(ihdr)
    if expected is not None and inflated != expected:
        return f"its image data holds {inflated} bytes, not the {expected} its header announces"
    return None


def _png_data_size(ihdr: bytes | None) -> int | None:
    if ihdr is None or len(ihdr) != 13:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if colour not in _CHANNELS:
        return None
    bits = depth * _CHANNELS[colour]

    def rows(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits + 7) // 8)

    if not interlace:
        return rows(width, height)
    return sum(rows((width - x + dx - 1) // dx if width > x else 0, (height - y + dy - 1) // dy if height > y else 0)
               for x, y, dx, dy in _ADAM7)


def _jpeg_problem(handle: BinaryIO, total: int) -> str | None:
    handle.seek(max(0, total - 64))
    if not handle.read().rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        return "it has no end-of-image marker"
    from .pillow import jpeg_decodes  # Pillow, only for JPEG

    handle.seek(0)
    return None if jpeg_decodes(handle) else "it does not decode"


def _webp_problem(handle: BinaryIO, total: int) -> str | None:
    handle.seek(4)
    declared = struct.unpack("<I", handle.read(4))[0]
    if declared + 8 != total and declared + 9 != total:
        return f"its RIFF header announces {declared + 8} bytes but {total} arrived"
    pos = 12
    while pos + 8 <= total:
        handle.seek(pos + 4)
        size = struct.unpack("<I", handle.read(4))[0]
        pos += 8 + size + (size & 1)
    if pos > total + 1:
        return "its last chunk is cut short"
    return None


def _gif_problem(handle: BinaryIO, total: int) -> str | None:
    handle.seek(max(0, total - 16))
    return None if handle.read().rstrip(b"\0").endswith(b";") else "it has no trailer"

"""Is an image whole and plausible? Checked before it is published, so a reader never gets half
an image, and a header that claims 100000x100000 pixels is never taken at its word.

PNG: every chunk's CRC, IHDR first, IEND last, and the image data inflates to exactly the size
IHDR announces (inflated in bounded steps and thrown away, so a 4K image costs no pixel buffer).
JPEG: start and end markers, and Pillow decodes it at 1/8 scale (a cut file fails there).
WebP: the RIFF length matches the bytes and every chunk fits. GIF: the trailer byte.
Dimensions: each side at most MAX_SIDE, at most MAX_PIXELS in all (a decompression-bomb guard).
"""
from __future__ import annotations

import struct
import zlib

from .errors import ProtocolError
from .imageinfo import ImageInfo, read_info

MAX_SIDE = 16384
MAX_PIXELS = 8192 * 8192
_STEP = 1 << 20
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def check_image(data: bytes, what: str = "The image") -> ImageInfo:
    """Format and dimensions from the bytes; raise ProtocolError (bad_image) unless whole and plausible."""
    info = read_info(data)
    if info is None:
        # Never quote the bytes: a link may have fetched something private.
        raise ProtocolError(f"{what} the relay returned is not a PNG, JPEG, WebP or GIF ({len(data)} bytes).",
                            code="bad_image")
    if info.width > MAX_SIDE or info.height > MAX_SIDE or info.width * info.height > MAX_PIXELS:
        raise ProtocolError(f"{what} claims {info.size} pixels, beyond the limit of {MAX_SIDE} per side and "
                            f"{MAX_PIXELS // 1_000_000} megapixels; it is not taken as an image.", code="bad_image")
    problem = {"png": _png_problem, "jpeg": _jpeg_problem, "webp": _webp_problem, "gif": _gif_problem}[info.format](data)
    if problem:
        raise ProtocolError(f"{what} the relay returned is incomplete or corrupt ({info.format.upper()}: {problem}).",
                            code="bad_image")
    return info


def _png_problem(data: bytes) -> str | None:
    pos, first, ihdr = 8, True, None
    inflater, inflated = zlib.decompressobj(), 0
    while True:
        if pos + 12 > len(data):
            return "it ends before its IEND chunk"
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            return f"the {kind.decode('latin-1')} chunk is cut short"
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4:end])[0]:
            return f"the {kind.decode('latin-1')} chunk fails its CRC"
        if first and kind != b"IHDR":
            return "it does not start with IHDR"
        first = False
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            try:
                pending = body
                while pending:
                    inflated += len(inflater.decompress(pending, _STEP))
                    pending = inflater.unconsumed_tail
            except zlib.error:
                return "its image data does not inflate"
        elif kind == b"IEND":
            break
        pos = end
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


def _jpeg_problem(data: bytes) -> str | None:
    if not data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        return "it has no end-of-image marker"
    from .imaging import jpeg_decodes  # Pillow, only for JPEG

    return None if jpeg_decodes(data) else "it does not decode"


def _webp_problem(data: bytes) -> str | None:
    declared = struct.unpack("<I", data[4:8])[0]
    if declared + 8 != len(data) and declared + 9 != len(data):
        return f"its RIFF header announces {declared + 8} bytes but {len(data)} arrived"
    pos = 12
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        pos += 8 + size + (size & 1)
    if pos > len(data) + 1:
        return "its last chunk is cut short"
    return None


def _gif_problem(data: bytes) -> str | None:
    return None if data.rstrip(b"\0").endswith(b";") else "it has no trailer"

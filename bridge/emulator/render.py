"""Deterministic PNG renderer for the relay emulator.

The emulator must hand back a real image the bridge can decode, measure and save, without any
imaging library. A small landscape (four-corner gradient sky, sun, mountains, ground band, a
fine grain) is drawn row by row with bytes operations: per-pixel Python loops would take
seconds at 1536x1024, these take a few tens of milliseconds.
"""
from __future__ import annotations

import functools
import hashlib
import math
import random
import struct
import zlib

MAX_SIDE = 8192  # Gemini draws up to 6336 px a side (21:9 at 4K)
_LEVELS = 85  # gradient steps per channel: values 0..254 address (channel, step) in one byte
_TOP = 247  # palette ceiling, so the grain below can be added without carries
_GRAIN_ROWS = 7


@functools.lru_cache(maxsize=16)  # deterministic, and tests ask for the same picture again and again
def render_png(prompt: str, width: int, height: int, *, noise: bool = False, coarse: int = 0) -> bytes:
    """Return PNG bytes (RGB, 8 bit) drawn from ``prompt``; equal inputs give equal bytes.

    ``coarse`` > 0 gives a blockier version (blocks of 2**(coarse+3) pixels), as used for
    partial images. ``noise`` fills the picture with random pixels seeded from the prompt, which
    makes the file as large as a real photo-like image (about 4.7 MB at 1536x1024).
    """
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"image size out of range: {width}x{height}")
    digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).digest()
    block = 2 ** (coarse + 3) if coarse > 0 else 1
    if noise:
        rows = _noise_rows(digest, width, height, block)
        level = 1  # random bytes do not compress; level 1 keeps it fast
    else:
        rows = _scene_rows(digest, width, height, block)
        level = 6
    return encode_png(width, height, rows, level)


def encode_png(width: int, height: int, rows: list[bytes], level: int = 6) -> bytes:
    """Wrap RGB rows (each ``3 * width`` bytes) into a PNG file."""
    raw = b"\x00" + b"\x00".join(rows)  # filter type 0 before every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw, level)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _noise_rows(digest: bytes, width: int, height: int, block: int) -> list[bytes]:
    rng = random.Random(int.from_bytes(digest, "big"))
    if block == 1:
        data = rng.randbytes(width * height * 3)
        stride = width * 3
        return [data[i : i + stride] for i in range(0, len(data), stride)]
    cols = -(-width // block)
    rows: list[bytes] = []
    for y in range(0, height, block):
        pixels = rng.randbytes(cols * 3)
        row = b"".join(pixels[i : i + 3] * block for i in range(0, len(pixels), 3))[: width * 3]
        rows.extend([row] * min(block, height - y))
    return rows


def _palette(digest: bytes, index: int) -> tuple[int, int, int]:
    r, g, b = digest[index * 3 : index * 3 + 3]
    return r * _TOP // 255, g * _TOP // 255, b * _TOP // 255


def _scene_rows(digest: bytes, width: int, height: int, block: int) -> list[bytes]:
    corners = [_palette(digest, i) for i in range(4)]  # top-left, top-right, bottom-left, bottom-right
    ground = [_palette(digest, i) for i in (4, 5)]
    sun_colour = bytes(_palette(digest, 6))
    hill_colours = [bytes(_palette(digest, 7)), bytes(_palette(digest, 8))]
    horizon = height * (55 + digest[27] % 20) // 100

    # One index row: each channel of each pixel holds its channel number and its gradient step,
    # so a 256-byte translate table per row turns it into the coloured gradient row.
    steps = bytes(min(_LEVELS - 1, x * _LEVELS // max(1, width)) for x in range(width))
    index_row = bytearray(width * 3)
    for c in range(3):
        index_row[c::3] = steps.translate(bytes((c * _LEVELS + v) % 256 for v in range(256)))
    index_row = bytes(index_row)

    sun_r = max(2, min(width, height) * (8 + digest[28] % 8) // 100)
    sun_x = width * (15 + digest[29] % 70) // 100
    sun_y = horizon * (25 + digest[30] % 40) // 100
    hills = []
    for i in range(2 + digest[31] % 3):
        apex_x = width * (digest[9 + i] % 100) // 100
        apex_y = horizon - horizon * (10 + digest[13 + i] % 35) // 100
        slope = 0.6 + (digest[17 + i] % 10) / 5  # horizontal run per row of descent
        hills.append((apex_x, apex_y, slope, hill_colours[i % 2]))

    grain_rng = random.Random(int.from_bytes(digest[:8], "big"))
    low_bits = bytes(v & 7 for v in range(256))  # grain of 0..7 per channel
    grain = [int.from_bytes(grain_rng.randbytes(width * 3).translate(low_bits), "big") for _ in range(_GRAIN_ROWS)]
    tables: dict[int, bytes] = {}
    rows: list[bytes] = []
    last_sample = -1
    row = b""
    for y in range(height):
        sample = min(height - 1, (y // block) * block + block // 2) if block > 1 else y
        if sample != last_sample:
            row = _scene_row(
                sample, width, height, horizon, index_row, tables, corners, ground,
                (sun_x, sun_y, sun_r, sun_colour), hills,
            )
            if block > 1:
                row = _blocky(row, width, block)
            else:
                row = (int.from_bytes(row, "big") + grain[y % _GRAIN_ROWS]).to_bytes(width * 3, "big")
            last_sample = sample
        rows.append(row)
    return rows


def _scene_row(y, width, height, horizon, index_row, tables, corners, ground, sun, hills) -> bytes:
    if y < horizon:
        t = y * 64 // max(1, horizon)  # 64 vertical steps keep the table cache small
        key = t
        top, bottom = (corners[0], corners[1]), (corners[2], corners[3])
    else:
        t = (y - horizon) * 64 // max(1, height - horizon)
        key = 100 + t
        top, bottom = (ground[0], ground[1]), (ground[1], ground[0])
    table = tables.get(key)
    if table is None:
        table = tables[key] = _gradient_table(top, bottom, t / 64)
    row = bytearray(index_row.translate(table))
    if y < horizon:
        sun_x, sun_y, sun_r, colour = sun
        dy = y - sun_y
        if abs(dy) < sun_r:
            half = int(math.sqrt(sun_r * sun_r - dy * dy))
            _fill(row, width, sun_x - half, sun_x + half, colour)
        for apex_x, apex_y, slope, colour in hills:
            if y >= apex_y:
                half = int((y - apex_y) * slope)
                _fill(row, width, apex_x - half, apex_x + half, colour)
    return bytes(row)


def _gradient_table(top, bottom, t: float) -> bytes:
    table = bytearray(256)
    for c in range(3):
        for step in range(_LEVELS):
            u = step / (_LEVELS - 1)
            upper = top[0][c] * (1 - u) + top[1][c] * u
            lower = bottom[0][c] * (1 - u) + bottom[1][c] * u
            table[c * _LEVELS + step] = int(upper * (1 - t) + lower * t)
    return bytes(table)


def _fill(row: bytearray, width: int, x0: int, x1: int, colour: bytes) -> None:
    x0, x1 = max(0, x0), min(width, x1 + 1)
    if x1 > x0:
        row[x0 * 3 : x1 * 3] = colour * (x1 - x0)


def _blocky(row: bytes, width: int, block: int) -> bytes:
    centre = block // 2
    pieces = []
    for x in range(0, width, block):
        i = min(width - 1, x + centre) * 3
        pieces.append(row[i : i + 3] * block)
    return b"".join(pieces)[: width * 3]

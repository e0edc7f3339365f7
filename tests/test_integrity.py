"""Whole and plausible: what may be published as a final image, judged from the bytes alone."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bridge.emulator.pictures import claims_huge_size
from bridge.emulator.render import render_png
from bridge.errors import ProtocolError
from bridge.images.integrity import MAX_SIDE, check_image


def _pillow(fmt: str, size=(97, 61), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 90) if mode == "RGB" else (10, 200, 90, 128)).save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize("data, fmt", [
    (render_png("whole", 64, 48), "png"),
    (render_png("noisy", 33, 17, noise=True), "png"),
    (_pillow("PNG", interlace=1), "png"),  # Adam7 sizes differ from plain rows
    (_pillow("PNG", mode="RGBA"), "png"),
    (_pillow("PNG", size=(5, 3)), "png"),
    (_pillow("JPEG", quality=80), "jpeg"),
    (_pillow("JPEG", progressive=True), "jpeg"),
    (_pillow("WEBP"), "webp"),
    (_pillow("WEBP", lossless=True, mode="RGBA"), "webp"),
    (_pillow("GIF"), "gif"),
])
def test_whole_images_pass(data, fmt):
    info = check_image(data)
    assert info.format == fmt and info.width > 0


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _reset_crc(png: bytes, kind: bytes) -> bytes:
    """Recompute the CRC of the first chunk of ``kind`` so only the content is wrong."""
    pos = png.index(kind) - 4
    length = struct.unpack(">I", png[pos:pos + 4])[0]
    body = png[pos + 4:pos + 8 + length]
    return png[:pos + 8 + length] + struct.pack(">I", zlib.crc32(body)) + png[pos + 12 + length:]


PNG = render_png("broken", 64, 48, noise=True)
JPEG = _pillow("JPEG", size=(256, 256))


@pytest.mark.parametrize("data, words", [
    (PNG[:-12], "ends before its IEND"),  # IEND missing
    (PNG[: PNG.index(b"IDAT") + 40], "cut short"),  # IDAT cut
    (_flip(PNG, PNG.index(b"IDAT") + 20), "fails its CRC"),
    (_reset_crc(_flip(PNG, PNG.index(b"IDAT") + 20), b"IDAT"), "inflate"),  # CRC right, data wrong
    (claims_huge_size(render_png("x", 8, 8)), "100000x100000"),
    (claims_huge_size(render_png("x", 8, 8), 4000, 4000), "holds"),  # plausible size, data for 8x8
    (claims_huge_size(render_png("x", 8, 8), MAX_SIDE + 1, 1), "limit"),
    (JPEG[: len(JPEG) // 2], "end-of-image"),
    (_pillow("WEBP")[:-10], "RIFF header"),
    (_pillow("GIF")[:-1], "trailer"),
    (b"not an image at all", "not a PNG"),
])
def test_half_or_dishonest_images_fail(data, words):
    with pytest.raises(ProtocolError) as info:
        check_image(data, "The final image")
    assert info.value.code == "bad_image" and words in info.value.message, info.value.message


def test_pixel_limit_is_a_product_too():
    with pytest.raises(ProtocolError):
        check_image(claims_huge_size(render_png("x", 8, 8), 10000, 10000))

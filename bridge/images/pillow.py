"""Everything the bridge does with Pillow: decode checks, previews for the model, mask conversion.

Imported lazily by its callers, so ``import bridge`` and the CLI's start-up never pay for Pillow.
The saved image files are never altered here: previews and converted masks are new bytes.
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from PIL import Image, ImageChops

MAX_PIXELS = 8192 * 8192
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own decompression-bomb guard, at the bridge's limit
_DECODES = threading.BoundedSemaphore(2)  # full-size decodes at once (previews)


def jpeg_decodes(handle) -> bool:
    """True when a JPEG (an open binary file) decodes; at 1/8 scale, so a 4K image costs no full
    pixel buffer."""
    try:
        with Image.open(handle) as image:
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int


def preview(path: str, long_side: int, max_bytes: int) -> Preview | None:
    """A downscaled copy for the model to see: JPEG when opaque, WebP when transparency matters,
    long side at most ``long_side``, at most ``max_bytes``; None when it cannot be made that small.
    At most two are made at once: a 4K PNG decodes to ~33 MB of pixels, whatever the server's load."""
    with _DECODES:
        try:
            with Image.open(path) as image:
                if image.format == "JPEG":
                    image.draft("RGB", (long_side, long_side))  # decode at a reduced scale
                image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
                transparent = _has_transparency(image)
                picture = image.convert("RGBA" if transparent else "RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None
    side = max(picture.size)
    quality = 80
    while side >= 64:
        candidate = picture if side >= max(picture.size) else picture.resize(
            (max(1, picture.width * side // max(picture.size)), max(1, picture.height * side // max(picture.size))),
            Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if transparent:
            candidate.save(out, "WEBP", quality=quality, method=4)
            mime = "image/webp"
        else:
            candidate.save(out, "JPEG", quality=quality, optimize=True)
            mime = "image/jpeg"
        if out.tell() <= max_bytes:
            return Preview(out.getvalue(), mime, candidate.width, candidate.height)
        if quality > 60:
            quality -= 10
        else:
            side = int(side * 0.75)
    return None


def _has_transparency(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        return image.getchannel("A").getextrema()[0] < 255
    return image.mode == "P" and "transparency" in image.info


def has_transparent_pixel(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _has_transparency(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def mask_to_alpha(data: bytes) -> bytes | None:
    """A black-and-white or grayscale mask (white = the area to change), as agents and people draw
    them, turned into the PNG alpha mask the API expects (transparent = the area to change).
    None when the mask is not gray (a coloured picture is no mask) or would mark nothing."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode in ("1", "L", "I", "I;16"):
                gray = image.convert("L")
            else:
                rgb = image.convert("RGB")
                red, green, blue = rgb.split()
                if _differs(red, green) or _differs(green, blue):
                    return None
                gray = red
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    alpha = gray.point(lambda value: 255 - value)
    if alpha.getextrema()[0] == 255:
        return None  # all black: nothing to change
    rgba = Image.new("RGBA", gray.size, (0, 0, 0, 255))
    rgba.putalpha(alpha)
    out = io.BytesIO()
    rgba.save(out, "PNG")
    return out.getvalue()


def _differs(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getextrema()[1] > 8  # JPEG noise aside


def alpha_to_visible(data: bytes) -> bytes:
    """The API's alpha mask (transparent = the area to change) as a picture a model can see:
    white where to change, black elsewhere. For the styles that take no mask field (Gemini, chat),
    where the mask goes as one more image with a sentence that says what it is."""
    with Image.open(io.BytesIO(data)) as image:
        alpha = image.convert("RGBA").getchannel("A")
    visible = alpha.point(lambda value: 255 - value).convert("RGB")
    out = io.BytesIO()
    visible.save(out, "PNG")
    return out.getvalue()

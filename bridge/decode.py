"""Image payloads (base64, data URLs, links) to verified image bytes."""
from __future__ import annotations

import base64
import binascii

from .errors import ProtocolError
from .imagecheck import check_image
from .imageinfo import ImageInfo


def decode_base64(payload: str) -> bytes:
    if payload.startswith("data:"):
        header, _, payload = payload.partition(",")
        if ";base64" not in header:
            raise ProtocolError("The relay returned a data URL that is not base64.", code="bad_image")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("The relay returned image data that is not valid base64.", code="bad_image") from None


def verify(data: bytes, what: str = "The image") -> ImageInfo:
    """Format and dimensions read from the bytes, once they are known to be a whole, plausible image;
    the relay's own claims are never trusted."""
    return check_image(data, what)

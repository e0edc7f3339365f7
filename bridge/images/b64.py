"""Base64 image payloads the streaming extractor did not take (small, unknown fields) to bytes."""
from __future__ import annotations

import base64
import binascii

from ..errors import ProtocolError


def decode_base64(payload: str) -> bytes:
    if payload.startswith("data:"):
        header, _, payload = payload.partition(",")
        if ";base64" not in header:
            raise ProtocolError("The relay returned a data URL that is not base64.", code="bad_image")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("The relay returned image data that is not valid base64.", code="bad_image") from None


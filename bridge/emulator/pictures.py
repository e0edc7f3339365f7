"""The images a job produces (partials, finals) and the usage figures reported beside them."""
from __future__ import annotations

import base64
import struct
import zlib

from .jobs import Job
from .options import Options
from .render import render_png

NOT_AN_IMAGE = b"this is not an image at all"
INVALID_BASE64 = "!!!not base64!!!"


class Pictures:
    def __init__(self, job: Job, opts: Options):
        self.job = job
        self.noise = opts.noise
        self.fault = opts.fault

    def _prompt(self, index: int) -> str:
        # Each of n images differs, yet stays reproducible.
        return self.job.prompt if index == 0 else f"{self.job.prompt} #{index + 1}"

    def partial_b64(self, k: int, count: int, index: int = 0) -> str:
        """Partial k of count (0-based): the earlier, the blockier."""
        data = render_png(self._prompt(index), self.job.width, self.job.height,
                          noise=self.noise, coarse=max(1, count - k))
        return base64.b64encode(data).decode()

    def final_bytes(self, index: int = 0) -> bytes:
        if self.fault == "bad-image":
            return NOT_AN_IMAGE
        if self.fault == "huge-dims":
            return claims_huge_size(render_png(self._prompt(index), 8, 8))
        if self.fault == "truncated-png":
            whole = render_png(self._prompt(index), self.job.width, self.job.height, noise=self.noise)
            return whole[: whole.index(b"IDAT") + (len(whole) - whole.index(b"IDAT")) // 2]  # cut in IDAT, no IEND
        width, height = self.job.width, self.job.height
        if self.fault == "downscale":
            # Relays silently downgrade and still claim the requested size (R14).
            width, height = max(1, width // 2), max(1, height // 2)
        return render_png(self._prompt(index), width, height, noise=self.noise)

    def final_b64(self, index: int = 0) -> str:
        if self.fault == "invalid-base64":
            return INVALID_BASE64
        return base64.b64encode(self.final_bytes(index)).decode()


def claims_huge_size(png: bytes, width: int = 100000, height: int = 100000) -> bytes:
    """A small PNG whose IHDR (with a correct CRC) claims a giant size: a decompression-bomb header."""
    ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def _prompt_tokens(job: Job) -> int:
    return max(1, len(job.prompt.split()) * 4 // 3)


def image_usage(job: Job, images: int = 1) -> dict:
    text = _prompt_tokens(job)
    image_in = 323 * job.sources
    output = images * max(16, job.width * job.height // 252)
    return {
        "input_tokens": text + image_in,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": text + image_in + output,
    }


def text_usage(job: Job) -> dict:
    """Responses ``usage`` counts only the text model; the image cost is in ``tool_usage``."""
    inputs = 1800 + _prompt_tokens(job)
    return {
        "input_tokens": inputs,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 96,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": inputs + 96,
    }

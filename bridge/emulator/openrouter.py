"""``POST /v1/images``: OpenRouter's Image API (``docs/relay-styles.md``, style E).

``prompt``, ``n``, ``resolution`` (``512``/``1K``/``2K``/``4K``) with ``aspect_ratio``, or ``size``
(``WxH`` or a tier); input images as ``input_references[{type: "image_url", image_url: {url}}]``.
The answer: ``data[].b64_json`` with ``media_type`` and ``usage.cost``; streamed (``stream: true``)
as ``image_generation.partial_image`` / ``image_generation.completed`` data lines, then ``[DONE]``.
``fault=openrouter-only`` makes ``/images/generations``, ``/images/edits`` and ``/responses`` a 404, as
OpenRouter has no image route there;
``fault=openrouter-502`` too, and its ``/images`` fails as OpenRouter's failed generation does
(HTTP 502, not billed).
"""
from __future__ import annotations

import time

from ..relay import aspect
from ..relay.models import ratio_rule
from .jobs import ApiError, Job, bad_request, decode_data_url, _int
from .pictures import Pictures
from .wire import Event, Raw

RESOLUTIONS = {"512": "512", "0.5K": "512", "1K": "1K", "2K": "2K", "4K": "4K"}
COST_PER_IMAGE = 0.04


def failed_generation() -> ApiError:
    return ApiError(502, {"error": {"code": 502, "message": "Generation failed", "metadata": {"provider_name": "emu"}}})


def openrouter_job(data) -> Job:
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("prompt is required", "prompt")
    if not data.get("model"):
        raise bad_request("model is required", "model")
    sources = []
    for item in data.get("input_references") or []:
        url = (item.get("image_url") or {}).get("url") if isinstance(item, dict) else None
        sources.append(decode_data_url(url, "input_references") if str(url or "").startswith("data:") else b"")
    resolution, ratio, size = data.get("resolution"), data.get("aspect_ratio"), data.get("size")
    if resolution is not None and str(resolution).upper() not in RESOLUTIONS:
        raise bad_request(f"Invalid resolution: {resolution}. Use 512, 1K, 2K or 4K.", "resolution")
    if ratio is not None and (":" not in str(ratio)):
        raise bad_request(f"Invalid aspect_ratio: {ratio}.", "aspect_ratio")
    rule = ratio_rule(str(data["model"]))  # a Gemini model draws Gemini's sizes, here as anywhere
    if resolution or ratio:
        ratio, tier = str(ratio or "1:1"), RESOLUTIONS[str(resolution or "1K").upper()]
        width, height = (rule and rule.dims(ratio, tier if rule.sends_tier else None)) or aspect.area_size(ratio, tier)
    elif size and aspect.parse_size(str(size)):
        width, height = aspect.parse_size(str(size))
    else:
        width, height = 1024, 1024
    job = Job(kind="openrouter", prompt=prompt, width=width, height=height, model=str(data["model"]),
              n=_int(data.get("n"), "n", 1, 10, 1), stream=data.get("stream") is True, sources=len(sources),
              # A model that streams sends one preview before the image, unasked.
              partial_images=_int(data.get("partial_images"), "partial_images", 0, 3, 1 if data.get("stream") else 0),
              output_format=str(data.get("output_format") or "png"))
    job.params = set(data)
    return job


class OpenRouterBuilder:
    def __init__(self, job: Job, pictures: Pictures, opts) -> None:
        self.job, self.pictures = job, pictures
        self.created = int(time.time())

    def _usage(self) -> dict:
        tokens = self.job.n * max(16, self.job.width * self.job.height // 256)
        return {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens,
                "cost": round(COST_PER_IMAGE * self.job.n, 6)}

    def body(self) -> dict:
        data = [{"b64_json": self.pictures.final_b64(i), "media_type": "image/png"} for i in range(self.job.n)]
        return {"created": self.created, "data": data, "usage": self._usage()}

    def stream(self) -> list:
        items: list = []
        for index in range(self.job.n):
            for k in range(self.job.partial_images):
                items.append(Event("", {"type": "image_generation.partial_image", "partial_image_index": k,
                                        "b64_json": self.pictures.partial_b64(k, self.job.partial_images, index)}))
            items.append(Event("", {"type": "image_generation.completed", "b64_json": self.pictures.final_b64(index),
                                    "media_type": "image/png", "created": self.created,
                                    "usage": self._usage()}, final=True))
        items.append(Raw("data: [DONE]\n\n"))
        return items

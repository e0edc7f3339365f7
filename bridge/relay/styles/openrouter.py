"""OpenRouter's Image API: ``POST {base}/images``, a route of the Images API.

Since 2026-06-23 OpenRouter adds new image models only here. It is tried in ``images`` mode when
the relay has no ``/images/generations`` (a 404 or 405, which bills nothing), and remembered per
relay (``negotiate.Routes``). Fields: ``prompt``, ``n``, ``resolution`` (``512``/``1K``/``2K``/``4K``)
and ``aspect_ratio``, or ``size``; ``quality``, ``output_format``, ``background``,
``output_compression``; input images as ``input_references[{type: "image_url", image_url: {url}}]``
(a mask as one more reference, said to be one). The answer is ``data[].b64_json`` with
``media_type`` and ``usage.cost``; streamed (with partial images) as
``image_generation.partial_image`` / ``image_generation.completed`` / ``error`` events, which the
Images API's reader reads. A failed generation is an HTTP 502 that OpenRouter does not bill.
"""
from __future__ import annotations

from ...config import Settings
from ...errors import BridgeError
from ...user_request import Job
from ..call import HttpCall
from ..events import Reader
from .base import MASK_NOTE, Style, b64_bytes, data_url, visible_mask, without
from .images import ImagesReader, images_stream


class OpenRouterImagesStyle(Style):
    name = "openrouter"
    title = "OpenRouter's Image API"
    payload_keys = ("b64_json",)
    link_keys = ("url",)
    partial_images = True

    @property
    def mode(self) -> str:
        return "images"

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        body: dict = {"model": settings.image_model, "prompt": job.prompt, "n": job.n}
        if job.aspect_ratio or job.resolution:
            body.update({k: v for k, v in (("aspect_ratio", job.aspect_ratio), ("resolution", job.resolution)) if v})
        elif job.size != "auto":
            body["size"] = job.size
        if job.quality != "auto":
            body["quality"] = job.quality
        body["output_format"] = job.output_format
        if job.background != "auto":
            body["background"] = job.background
        if job.output_format in ("jpeg", "webp"):
            body["output_compression"] = job.output_compression
        if settings.request_policy == "compat" and job.seed is not None:
            body["seed"] = job.seed
        references = [data_url(img) for img in job.images]
        if job.mask is not None:
            body["prompt"] = f"{job.prompt}\n\n{MASK_NOTE}"
            references.append("data:image/png;base64," + b64_bytes(visible_mask(job)))
        if references:
            body["input_references"] = [{"type": "image_url", "image_url": {"url": url}} for url in references]
        stream = images_stream(job, settings)
        if stream:
            body["stream"] = True
        return HttpCall(path="/images", stream=stream, json=without(body, dropped))

    def unbilled(self, error: BridgeError) -> str | None:
        if error.status_code == 502 and not error.stream_started:
            return "OpenRouter does not bill a generation that fails with HTTP 502."
        return None

    def reader(self) -> Reader:
        return ImagesReader()


STYLE = OpenRouterImagesStyle()

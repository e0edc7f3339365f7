"""The OpenAI Images API: ``POST /images/generations`` (JSON) and ``/images/edits`` (multipart).

With partial images (or IMAGE_RELAY_STREAM=true) the request streams and the
``image_generation.*`` / ``image_edit.*`` events are read; otherwise the ``data[]`` body is.
"""
from __future__ import annotations

from ...config import Settings
from ...user_request import Job
from ..call import HttpCall
from ..events import Reader, Signal, meta_of, text_of
from .base import Style, image_options, without


def images_stream(job: Job, settings: Settings) -> bool:
    """IMAGE_RELAY_STREAM: auto streams the Images API only for partial images; false never streams."""
    if settings.stream == "false":
        return False
    return settings.stream == "true" or job.partial_images > 0


class ImagesStyle(Style):
    name = "images"
    title = "the Images API"
    payload_keys = ("b64_json",)
    link_keys = ("url",)
    partial_images = True

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        params = without(self._params(job, settings), dropped)
        if not job.is_edit:
            return HttpCall(path="/images/generations", stream=images_stream(job, settings), json=params)
        fields = [(key, _form_value(value)) for key, value in params.items()]
        # The OpenAI SDK names one file "image" and a list "image[]"; relays accept both.
        part = "image" if len(job.images) == 1 else "image[]"
        files = [(part, img.filename, img.data, img.info.mime_type) for img in job.images]
        if job.mask is not None:
            files.append(("mask", job.mask.filename, job.mask.data, job.mask.info.mime_type))
        return HttpCall(path="/images/edits", stream=images_stream(job, settings), fields=fields, files=files)

    def _params(self, job: Job, settings: Settings) -> dict:
        params: dict = {"model": settings.image_model, "prompt": job.prompt, "n": job.n}
        params.update(image_options(job, settings))
        if images_stream(job, settings):
            params["stream"] = True
            if job.partial_images > 0:
                params["partial_images"] = job.partial_images
        return params

    def reader(self) -> Reader:
        return ImagesReader()


class ImagesReader(Reader):
    def untyped(self, kind: str, payload: dict) -> list[Signal]:
        return self._body(payload) if isinstance(payload.get("data"), list) else []

    def _completed(self, payload: dict) -> list[Signal]:
        if isinstance(payload.get("data"), list):
            return self._body(payload)
        b64, url = text_of(payload.get("b64_json")), text_of(payload.get("url"))
        if payload.get("usage"):
            self.outcome.usage = payload["usage"]
        if payload.get("revised_prompt"):
            self.outcome.revised_prompt = payload["revised_prompt"]
        if not (b64 or url):
            return []
        return self._start() + [self._final(b64, url, meta_of(payload))]

    def _body(self, body: dict) -> list[Signal]:
        if body.get("usage"):
            self.outcome.usage = body["usage"]
        signals = self._start()
        for entry in body.get("data") or []:
            if not isinstance(entry, dict):
                continue
            b64, url = text_of(entry.get("b64_json")), text_of(entry.get("url"))
            if entry.get("revised_prompt"):
                self.outcome.revised_prompt = entry["revised_prompt"]
            if b64 or url:
                signals.append(self._final(b64, url, meta_of({**body, **entry})))
        return signals

    handlers = {
        "image_generation.partial_image": Reader._partial,
        "image_edit.partial_image": Reader._partial,
        "image_generation.partial_succeeded": Reader._partial,
        "image_edit.partial_succeeded": Reader._partial,
        "image_generation.completed": _completed,
        "image_edit.completed": _completed,
    }


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


STYLE = ImagesStyle()

"""Build the HTTP call for each upstream style; pure, no I/O."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field

from ..config import Settings
from ..user_request import Job, SourceImage

RESPONSES, IMAGES = "responses", "images"


@dataclass(frozen=True)
class HttpCall:
    """Everything the transport needs to send one request (the base URL and key come from Settings)."""

    path: str
    stream: bool
    json: dict | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str, bytes, str]] = field(default_factory=list)  # (part, filename, data, mime)

    @property
    def endpoint(self) -> str:
        return self.path.lstrip("/")


def build_call(job: Job, settings: Settings, mode: str, *, dropped: frozenset[str] = frozenset()) -> HttpCall:
    """The request for one attempt in ``mode``; ``dropped`` names parameters the relay refused."""
    if mode == RESPONSES:
        return _responses_call(job, settings, dropped)
    if job.is_edit:
        return _edits_call(job, settings, dropped)
    return HttpCall(path="/images/generations", stream=images_stream(job, settings),
                    json=_without(_image_params(job, settings), dropped))


def images_stream(job: Job, settings: Settings) -> bool:
    """IMAGE_RELAY_STREAM: auto streams the Images API only for partial images; false never streams."""
    if settings.stream == "false":
        return False
    return settings.stream == "true" or job.partial_images > 0


def _image_options(job: Job, settings: Settings) -> dict:
    """The image fields shared by every style, in the order OpenAI documents them."""
    params: dict = {"size": job.size, "quality": job.quality, "background": job.background,
                    "output_format": job.output_format}
    if job.output_format in ("jpeg", "webp"):
        params["output_compression"] = job.output_compression
    if job.moderation:
        params["moderation"] = job.moderation
    if job.input_fidelity and job.is_edit:
        params["input_fidelity"] = job.input_fidelity
    if settings.request_policy == "compat":
        if job.negative_prompt:
            params["negative_prompt"] = job.negative_prompt
        if job.seed is not None:
            params["seed"] = job.seed
    return params


def _image_params(job: Job, settings: Settings) -> dict:
    params: dict = {"model": settings.image_model, "prompt": job.prompt, "n": job.n}
    params.update(_image_options(job, settings))
    if images_stream(job, settings):
        params["stream"] = True
        if job.partial_images > 0:
            params["partial_images"] = job.partial_images
    return params


def _edits_call(job: Job, settings: Settings, dropped: frozenset[str]) -> HttpCall:
    params = _without(_image_params(job, settings), dropped)
    fields = [(key, _form_value(value)) for key, value in params.items()]
    # The OpenAI SDK names one file "image" and a list "image[]"; relays accept both.
    part = "image" if len(job.images) == 1 else "image[]"
    files = [(part, img.filename, img.data, img.info.mime_type) for img in job.images]
    if job.mask is not None:
        files.append(("mask", job.mask.filename, job.mask.data, job.mask.info.mime_type))
    return HttpCall(path="/images/edits", stream=images_stream(job, settings), fields=fields, files=files)


def _responses_call(job: Job, settings: Settings, dropped: frozenset[str]) -> HttpCall:
    tool: dict = {"type": "image_generation"}
    if settings.image_model:
        tool["model"] = settings.image_model
    # Said outright, so the text model cannot redraw from scratch when an edit was asked for, or the reverse.
    tool["action"] = "edit" if job.is_edit else "generate"
    tool.update(_image_options(job, settings))
    stream = settings.stream != "false"
    if stream:
        tool["partial_images"] = job.partial_images
    if job.mask is not None:
        tool["input_image_mask"] = {"image_url": _data_url(job.mask)}
    tool = _without(tool, dropped)
    body: dict = {"model": settings.text_model}
    uploads = job.images
    if job.previous_response_id and "previous_response_id" not in dropped:
        # The relay holds the earlier turn and its image: continue from it, upload only what is new.
        body["previous_response_id"] = job.previous_response_id
        uploads = job.images[1:]
    if uploads:
        content = [{"type": "input_text", "text": job.prompt}]
        content += [{"type": "input_image", "image_url": _data_url(img), "detail": "auto"} for img in uploads]
        user_input: object = [{"role": "user", "content": content}]
    else:
        user_input = job.prompt
    body.update({"stream": stream, "input": user_input, "tools": [tool], "tool_choice": {"type": "image_generation"}})
    return HttpCall(path="/responses", stream=stream, json=body)


def _without(params: dict, dropped: frozenset[str]) -> dict:
    return {k: v for k, v in params.items() if k not in dropped}


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _data_url(image: SourceImage) -> str:
    return f"data:{image.info.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"

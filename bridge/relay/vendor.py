"""The Images API fields of models that are not OpenAI's, from the model table: pure.

``/images/generations`` is where relays sell most other image models, each with fields of its own
(``models.fields_of``; ``docs/relay-styles.md``, style D):

    seedream   ``size`` as ``WxH`` or a tier (``2K``); reference images and edits as JSON ``image``
               (a data URL, or an array of them) on ``/images/generations``, never multipart
               (new-api routes even Seedream's ``/images/edits`` to Ark's JSON generations
               endpoint); several images through ``sequential_image_generation``; none of OpenAI's
               quality, background, format or moderation fields
    jimeng     ``size`` as ``W*H``, or ``ratio`` and ``resolution`` (``2k``); JSON ``image``; ``n``
    grok       ``aspect_ratio`` and ``resolution`` (``1k``/``2k``); no size, background or format
    gemini     Nano Banana resellers: ``aspect_ratio`` and ``image_size`` (``2K``) beside OpenAI's fields

A mask, which none of them takes, goes as one more image with a sentence saying what it is.
"""
from __future__ import annotations

from ..user_request import Job
from .models import fields_of
from .sizes import parse

JSON_EDITS = ("seedream", "jimeng")  # edits as JSON image on /images/generations
_OPENAI_ONLY = ("quality", "background", "output_format", "output_compression", "moderation", "input_fidelity")


def json_edits(model: str | None) -> bool:
    return fields_of(model) in JSON_EDITS


def fields(params: dict, job: Job, model: str | None, images: list[str]) -> dict:
    """``params`` (OpenAI's Images API fields) as ``model`` takes them; ``images`` are the data URLs
    of the input images (and mask) for models that take them in JSON."""
    kind = fields_of(model)
    params = dict(params)
    if kind == "seedream":
        return _seedream(params, job, images)
    if kind == "jimeng":
        return _jimeng(params, job, images)
    if kind == "grok":
        for name in (*_OPENAI_ONLY, "size"):
            params.pop(name, None)
        params.update(_present(aspect_ratio=job.aspect_ratio, resolution=(job.resolution or "").lower() or None))
        return params
    if kind == "gemini":
        params.update(_present(aspect_ratio=job.aspect_ratio, image_size=job.resolution))
    return params


def _seedream(params: dict, job: Job, images: list[str]) -> dict:
    for name in (*_OPENAI_ONLY, "n", "partial_images"):
        params.pop(name, None)
    size = job.size if parse(job.size) else job.resolution
    params.pop("size", None)
    if size:
        params["size"] = size
    if images:
        params["image"] = images[0] if len(images) == 1 else images
    if job.n > 1:
        params["sequential_image_generation"] = "auto"
        params["sequential_image_generation_options"] = {"max_images": job.n}
    return params


def _jimeng(params: dict, job: Job, images: list[str]) -> dict:
    for name in (*_OPENAI_ONLY, "partial_images"):
        params.pop(name, None)
    size = parse(job.size)
    params.pop("size", None)
    if size:
        params["size"] = f"{size[0]}*{size[1]}"
    else:
        params.update(_present(ratio=job.aspect_ratio, resolution=(job.resolution or "").lower() or None))
    if images:
        params["image"] = images
    return params


def _present(**values) -> dict:
    return {key: value for key, value in values.items() if value}

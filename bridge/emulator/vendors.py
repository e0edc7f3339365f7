"""``/v1/images/generations`` for models that are not OpenAI's, with the fields their relays take.

As the relay docs of ``docs/relay-styles.md`` (style D) describe them, and the model table
(``relay/models``) names them:

    Seedream    ``size`` ``1K``/``2K``/``4K`` (a square) or ``WxH`` (default 2048x2048); ``image``
                (a data URL or a list) for references and edits; several images through
                ``sequential_image_generation: auto`` with ``max_images``; links by default
                (``response_format: b64_json`` for base64); usage as ``output_tokens`` only
    Jimeng      ``size`` ``W*H``, or ``ratio`` and ``resolution`` (``2k``); ``image`` list; links
    Grok        ``aspect_ratio`` and ``resolution`` (``1k``/``2k``); a ``size`` is a 400; links
    Gemini      ``aspect_ratio`` and ``image_size`` (Nano Banana resellers); base64

Multipart edits of Seedream and Jimeng on ``/images/edits`` are a 400, as on relays that route
those models to the JSON endpoint only. What was sent is recorded like any request.
"""
from __future__ import annotations

from ..images.sniff import read_info
from ..relay import aspect
from ..relay.models import fields_of, ratio_rule
from .jobs import Job, bad_request, decode_data_url, _int

_TIERS = {"1K": 1024, "2K": 2048, "4K": 4096}


def json_only(model: str) -> None:
    """Seedream and Jimeng take their images as JSON on /images/generations, never as multipart."""
    if fields_of(model) in ("seedream", "jimeng"):
        raise bad_request(f"The model {model} takes reference images as JSON 'image' on /v1/images/generations; "
                          "multipart edits are not supported.", "image", "InvalidParameter")


def vendor_job(data: dict, prompt: str) -> Job | None:
    """The job of a request for a model with fields of its own, or None for OpenAI's models."""
    model = str(data.get("model") or "")
    kind = fields_of(model)
    if kind == "openai":
        return None
    images = _images(data.get("image"))
    n = _int(data.get("n"), "n", 1, 10, 1)
    if kind == "seedream":
        width, height = _seedream_size(data.get("size"))
        if data.get("sequential_image_generation") == "auto":
            options = data.get("sequential_image_generation_options") or {}
            n = _int(options.get("max_images") if isinstance(options, dict) else None, "max_images", 1, 15, 1)
    elif kind == "jimeng":
        width, height = _jimeng_size(data)
    elif kind == "grok":
        if data.get("size"):
            raise bad_request("Argument not supported: size. Use aspect_ratio and resolution.", "size")
        width, height = _ratio_size(data.get("aspect_ratio"), str(data.get("resolution") or "1k").upper())
    else:  # a Gemini model on the Images API
        rule = ratio_rule(model)
        ratio = data.get("aspect_ratio") or _ratio_of(images) or "1:1"
        tier = str(data.get("image_size") or "").upper() or None
        if ratio not in rule.ratios:
            raise bad_request(f"Unsupported aspect_ratio: {ratio}.", "aspect_ratio")
        width, height = rule.dims(ratio, tier if rule.sends_tier else None) or aspect.area_size(ratio, tier or "1K")
    stream = data.get("stream")
    job = Job(kind="generations", prompt=prompt, width=width, height=height, model=model, n=n,
              stream=stream is True or str(stream).lower() in ("true", "1"), sources=len(images), vendor=kind,
              links=kind != "gemini" and data.get("response_format") != "b64_json")
    job.params = set(data)
    return job


def _images(value) -> list[bytes]:
    items = value if isinstance(value, list) else [value] if value else []
    # A link cannot be read here; it still counts as a source image.
    return [decode_data_url(item, "image") if str(item).startswith("data:") else b"" for item in items]


def _ratio_of(images: list[bytes]) -> str | None:
    info = read_info(images[0]) if images and images[0] else None
    return f"{info.width}:{info.height}" if info and info.width == info.height else None


def _seedream_size(value) -> tuple[int, int]:
    text = str(value or "2K").strip().upper()
    if text in _TIERS:
        return _TIERS[text], _TIERS[text]
    size = aspect.parse_size(text.lower())
    if size is None or not 1280 * 720 <= size[0] * size[1] <= 4096 * 4096:
        raise bad_request(f"The parameter `size` specified in the request is not valid: {value}.", "size",
                          "InvalidParameter")
    return size


def _jimeng_size(data: dict) -> tuple[int, int]:
    size = str(data.get("size") or "")
    if size:
        width, sep, height = size.partition("*")
        if not (sep and width.isdigit() and height.isdigit()):
            raise bad_request(f"Invalid size '{size}': use WIDTH*HEIGHT, e.g. 1024*1024.", "size")
        return int(width), int(height)
    return _ratio_size(data.get("ratio"), str(data.get("resolution") or "2k").upper())


def _ratio_size(ratio, tier: str) -> tuple[int, int]:
    ratio = str(ratio or "1:1")
    if tier not in _TIERS or ":" not in ratio:
        raise bad_request(f"Invalid ratio or resolution: {ratio}, {tier.lower()}.", "resolution")
    return aspect.area_size(ratio, tier)


def seedream_usage(job: Job, images: int) -> dict:
    tokens = images * max(16, job.width * job.height // 256)
    return {"generated_images": images, "output_tokens": tokens, "total_tokens": tokens}

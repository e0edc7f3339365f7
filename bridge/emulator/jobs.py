"""Turn a request body into a generation job, rejecting what OpenAI would reject with a 400."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from ..images.sniff import read_info
from ..relay.models import refused, rule_for, size_problem
from .faults import error_body
from .multipart import Part

DEFAULT_SIZE = (1024, 1024)
MIN_SIDE, MAX_SIDE = 16, 4096
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_IMAGE_FIELD = re.compile(r"^image(\[\d*\])?$")


class ApiError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(self, status: int, payload: dict, headers: dict[str, str] | None = None):
        super().__init__(payload["error"]["message"])
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, error_body(message, param=param, code=code))


@dataclass
class Job:
    kind: str  # "responses" | "generations" | "edits"
    prompt: str
    width: int
    height: int
    model: str
    quality: str = "high"
    background: str = "opaque"
    output_format: str = "png"
    partial_images: int = 0
    n: int = 1
    stream: bool = False
    text_model: str = ""
    has_tool: bool = True
    tools: list = field(default_factory=list)
    tool_choice: object = None
    params: set[str] = field(default_factory=set)  # parameter names the client sent
    sources: int = 0  # number of input images
    requested_action: str = "auto"  # the image_generation tool's action
    vendor: str = "openai"  # whose Images API fields it came with (relay/models.fields_of): seedream, jimeng, ...
    links: bool = False  # answer with links (data[].url) rather than base64, as Seedream, Jimeng and Grok do

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def action(self) -> str:
        if self.requested_action in ("generate", "edit"):
            return self.requested_action
        return "edit" if self.sources else "generate"

    def echo(self) -> dict:
        """The fields relays echo beside every image (R11: output_format is echoed, bytes stay PNG)."""
        return {"size": self.size, "quality": self.quality, "background": self.background,
                "output_format": self.output_format}


def responses_job(data: dict, earlier: bytes | None = None) -> Job:
    """``earlier``: the image of the answer ``previous_response_id`` names, the first source of an edit."""
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    if not data.get("model"):
        raise bad_request("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    tools = data.get("tools") or []
    tool = next((t for t in tools if isinstance(t, dict) and t.get("type") == "image_generation"), None)
    texts, images = [], []
    _walk_input(data.get("input"), texts, images)
    if earlier is not None:
        images.insert(0, earlier)
    settings = tool or {}
    job = _common(settings, "responses", " ".join(texts).strip(), images, data.get("stream"))
    job.text_model = str(data["model"])
    job.model = str(settings.get("model") or "gpt-image-1.5")
    job.has_tool = tool is not None
    job.tools = tools
    job.tool_choice = data.get("tool_choice", "auto")
    job.params = set(settings)
    action = settings.get("action", "auto")
    if action not in ("generate", "edit", "auto"):
        raise bad_request(f"Invalid value: '{action}'. Supported values are: 'generate', 'edit', and 'auto'.",
                          "tools[0].action")
    job.requested_action = action
    return job


def generations_job(data: dict) -> Job:
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    from .vendors import vendor_job
    job = vendor_job(data, prompt)
    if job is not None:
        return job
    job = _common(data, "generations", prompt, [], data.get("stream"))
    job.params = set(data)
    return job


def edits_job(fields: dict[str, str], files: list[Part]) -> Job:
    """``fields`` are the text parts (or JSON scalars), ``files`` the ``image``/``image[]`` parts."""
    from .vendors import json_only
    json_only(str(fields.get("model") or ""))
    images = [p.data for p in files if _IMAGE_FIELD.match(p.name)]
    if not images:
        raise bad_request("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    job = _common(fields, "edits", prompt, images, fields.get("stream"))
    job.params = set(fields) | {p.name for p in files}
    return job


def json_edit_parts(data: dict) -> tuple[dict, list[Part]]:
    """The JSON form of an edit: ``images: [{"image_url": "data:..."}]`` and ``mask: {"image_url": ...}``."""
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    files = []
    for item in data.get("images") or []:
        url = item.get("image_url") if isinstance(item, dict) else item
        files.append(Part("image[]", None, None, decode_data_url(url, "images")))
    fields = {k: v for k, v in data.items() if k not in ("images", "mask")}
    return fields, files


def decode_data_url(url, param: str) -> bytes:
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        raise bad_request("Invalid image URL: only data: URLs are accepted here.", param, "invalid_image_url")
    head, _, payload = url.partition(",")
    try:
        return base64.b64decode(payload, validate=True) if head.endswith(";base64") else payload.encode()
    except (binascii.Error, ValueError):
        raise bad_request("Invalid base64 image data.", param, "invalid_base64_image") from None


def _walk_input(value, texts: list[str], images: list[bytes]) -> None:
    if isinstance(value, str):
        texts.append(value)
    elif isinstance(value, list):
        for item in value:
            _walk_input(item, texts, images)
    elif isinstance(value, dict):
        kind = value.get("type")
        if kind in ("input_text", "text", "output_text"):
            texts.append(str(value.get("text", "")))
        elif kind == "input_image":
            url = value.get("image_url")
            # A remote URL or file id cannot be read here; it still counts as a source image.
            images.append(decode_data_url(url, "input") if str(url or "").startswith("data:") else b"")
        elif "content" in value:
            _walk_input(value["content"], texts, images)


def _common(src: dict, kind: str, prompt: str, images: list[bytes], stream) -> Job:
    model = str(src.get("model") or "gpt-image-1.5")
    _model_rules(model, src)
    size = _size(src.get("size"))
    if images:
        info = read_info(images[0]) if images[0] else None
        if images[0] and info is None:
            raise bad_request("Invalid image file or mode for image 1, please check your image file.",
                              "image", "invalid_image_file")
        # The output follows the first source image, as relays that cannot resize do.
        size = (min(info.width, MAX_SIDE), min(info.height, MAX_SIDE)) if info else size
    quality = str(src.get("quality") or "auto")
    background = str(src.get("background") or "auto")
    return Job(
        kind=kind,
        prompt=prompt,
        width=size[0],
        height=size[1],
        model=model,
        quality="high" if quality == "auto" else quality,
        background="opaque" if background == "auto" else background,
        output_format=str(src.get("output_format") or "png"),
        partial_images=_int(src.get("partial_images"), "partial_images", 0, 3, 0),
        n=_int(src.get("n"), "n", 1, 10, 1),
        stream=stream is True or str(stream).lower() in ("true", "1"),
        sources=len(images),
    )


def _model_rules(model: str, src: dict) -> None:
    """Refuse what OpenAI refuses for its own models (the bridge's model table); other names draw anything."""
    size = str(src.get("size") or "auto").strip().lower()
    problem = size_problem(model, size) if size != "auto" else None
    if problem is not None:
        rule = rule_for(model)
        if not rule.sizes.flexible:
            listed = ", ".join(f"'{s}'" for s in sorted(rule.sizes.presets))
            raise bad_request(f"Invalid value: '{size}'. Supported values are: {listed}, and 'auto'.", "size")
        raise bad_request(f"Invalid size '{size}' for model '{model}': {problem[0]}.", "size")
    rejected = refused(model, {k: src.get(k) for k in ("background", "input_fidelity")})
    if rejected == "input_fidelity":
        raise ApiError(400, error_body(f"The model '{model}' does not support the 'input_fidelity' parameter.",
                                       "image_generation_user_error", "input_fidelity", "invalid_input_fidelity_model"))
    if rejected:
        raise bad_request(f"Transparent backgrounds are not supported for model '{model}'; use opaque or auto.",
                          "background")


def _size(value) -> tuple[int, int]:
    if value in (None, "", "auto"):
        return DEFAULT_SIZE
    match = _SIZE.match(str(value))
    if match:
        width, height = int(match[1]), int(match[2])
        if MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE:
            return width, height
    raise bad_request(
        f"Invalid value: '{value}'. Size must be 'auto' or WIDTHxHEIGHT with each side between "
        f"{MIN_SIDE} and {MAX_SIDE} pixels.", "size")


def _int(value, name: str, low: int, high: int, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid type for '{name}': expected an integer.", name, "invalid_type") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise bad_request(f"Invalid '{name}': must be between {low} and {high}.", name)
    return number

"""What the user asks for, checked and completed with defaults before anything is sent."""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import (BACKGROUNDS, OUTPUT_FORMATS, QUALITIES, SIZE_PATTERN, TIER_SIZE, Settings, aspect_ratio, normal_size,
                     resolution)
from .errors import InputError
from .images.sniff import ImageInfo, png_has_alpha, read_info

MAX_PROMPT_CHARS = 32000
MAX_IMAGES = 16
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 16, 8192
EDIT_FORMATS = ("png", "jpeg", "webp")
MODERATIONS = ("auto", "low")
_TASK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
FIDELITIES = ("high", "low")


@dataclass(frozen=True)
class GenerationRequest:
    """One image job as a caller states it; None means "use the configured default"."""

    prompt: str
    image_paths: tuple[str, ...] = ()
    mask_path: str | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
    output_compression: int | None = None
    partial_images: int | None = None
    n: int = 1
    aspect_ratio: str | None = None  # "16:9": for models that take a ratio, else mapped to the nearest size
    resolution: str | None = None  # "1K" "2K" "4K" (or "512"): the same
    moderation: str | None = None
    input_fidelity: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    use_template: bool = True
    template: str | None = None
    output_dir: str | None = None
    output_name: str | None = None
    # The Responses API answer that made image_paths[0]: the relay can edit it without a new upload.
    previous_response_id: str | None = None
    # A task the relay already accepted: fetch its image by polling, without a new (billed) generation.
    task_id: str | None = None


@dataclass(frozen=True)
class SourceImage:
    path: Path
    data: bytes
    info: ImageInfo

    @property
    def filename(self) -> str:
        # Relays derive the part's type from the extension (new-api), so send a truthful one.
        stem = self.path.stem or "image"
        return f"{stem}.{self.info.extension}"


@dataclass(frozen=True)
class Job:
    """A validated request with every default filled in."""

    prompt: str
    original_prompt: str
    size: str
    quality: str
    output_format: str
    background: str
    output_compression: int
    partial_images: int
    n: int
    moderation: str | None
    input_fidelity: str | None
    negative_prompt: str
    seed: int | None
    images: tuple[SourceImage, ...]
    mask: SourceImage | None
    output_dir: Path
    output_name: str | None
    notes: tuple[str, ...] = ()  # warnings about what was done to the input (a converted mask)
    previous_response_id: str | None = None  # images[0] is that response's image (see GenerationRequest)
    aspect_ratio: str | None = None  # as asked, or as the model table derived it from the size
    resolution: str | None = None
    task_id: str | None = None  # fetch this relay task's image; nothing new is generated
    # One per job, the same for every attempt: the Idempotency-Key of an async request, so a relay
    # that sees the request again returns the task it already made instead of a second, billed one.
    request_key: str = ""

    @property
    def is_edit(self) -> bool:
        return bool(self.images)


def prepare_job(request: GenerationRequest, settings: Settings, *, base_dir: Path | None = None) -> Job:
    """Check every argument and input file; raise InputError (exit 2) before any request is sent."""
    prompt = (request.prompt or "").strip()
    task_id = (request.task_id or "").strip() or None
    if task_id is not None and not _TASK_ID.match(task_id):
        raise InputError("The task id must be the relay's id as it gave it: letters, digits and . _ - : only, "
                         "at most 200 characters.")
    if task_id is not None and not prompt:
        prompt = f"task {task_id}"  # names the saved file; nothing is sent
    if not prompt:
        raise InputError("The prompt is empty; describe the image to generate.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"The prompt has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}.")
    template = request.template if request.template is not None else settings.prompt_template
    if request.use_template and "{prompt}" not in template:
        raise InputError("The prompt template must contain the {prompt} placeholder.")
    text = template.replace("{prompt}", prompt) if request.use_template else prompt

    size, ratio, tier = _shape(request, settings)
    if not SIZE_PATTERN.match(size):
        raise InputError(f"Size {size!r} is not valid; use auto or WIDTHxHEIGHT such as 1024x1536.")
    if size != "auto":
        width, height = (int(part) for part in size.split("x"))
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise InputError(f"Size {size} is out of range; each side must be {MIN_SIDE} to {MAX_SIDE} pixels.")
    quality = _one_of("quality", _pick(request.quality, settings.quality), QUALITIES)
    output_format = _one_of("output format", _pick(request.output_format, settings.output_format), OUTPUT_FORMATS)
    background = _one_of("background", _pick(request.background, settings.background), BACKGROUNDS)
    compression = _in_range("output compression", _pick(request.output_compression, settings.output_compression), 0, 100)
    partials = _in_range("partial images", _pick(request.partial_images, settings.partial_images), 0, 3)
    n = _in_range("n", request.n if request.n is not None else 1, 1, 10)
    moderation = _one_of("moderation", request.moderation, MODERATIONS) if request.moderation else None
    fidelity = _one_of("input fidelity", request.input_fidelity, FIDELITIES) if request.input_fidelity else None
    if request.seed is not None and not 0 <= request.seed <= 2**32 - 1:
        raise InputError("The seed must be between 0 and 4294967295.")
    if background == "transparent" and output_format == "jpeg":
        raise InputError("A transparent background needs png or webp output, not jpeg.")

    base = base_dir or Path.cwd()
    if len(request.image_paths) > MAX_IMAGES:
        raise InputError(f"{len(request.image_paths)} source images given; the limit is {MAX_IMAGES}.")
    images = tuple(_read_image(p, base, "Source image", MAX_IMAGE_BYTES, EDIT_FORMATS) for p in request.image_paths)
    mask = None
    notes: list[str] = []
    if request.mask_path:
        if not images:
            raise InputError("A mask needs at least one source image (--image).")
        mask = _read_image(request.mask_path, base, "Mask", MAX_MASK_BYTES, EDIT_FORMATS)
        if not (mask.info.format == "png" and png_has_alpha(mask.data) and _some_transparency(mask.data)):
            mask, note = _converted_mask(mask, request.mask_path)
            notes.append(note)
        if (mask.info.width, mask.info.height) != (images[0].info.width, images[0].info.height):
            raise InputError(f"The mask is {mask.info.size} but the first image is {images[0].info.size}; "
                             "they must have the same size.")

    output_name = request.output_name.strip() if request.output_name else None
    if output_name is not None:
        if not output_name or "/" in output_name or "\\" in output_name or output_name in (".", "..") \
                or os.path.isabs(output_name) or ".." in Path(output_name).parts:
            raise InputError(f"Output name {output_name!r} must be a plain file stem that stays inside the output directory.")

    out_dir = Path(request.output_dir or settings.output_dir).expanduser()
    if not out_dir.is_absolute():
        out_dir = base / out_dir
    return Job(
        prompt=text, original_prompt=prompt, size=size, quality=quality, output_format=output_format,
        background=background, output_compression=compression, partial_images=partials, n=n,
        moderation=moderation, input_fidelity=fidelity,
        negative_prompt=(request.negative_prompt if request.negative_prompt is not None else settings.negative_prompt).strip(),
        seed=request.seed, images=images, mask=mask, output_dir=out_dir.resolve(), output_name=output_name,
        notes=tuple(notes), previous_response_id=(request.previous_response_id or None) if images else None,
        aspect_ratio=ratio, resolution=tier, task_id=task_id, request_key=str(uuid.uuid4()),
    )


def _shape(request: GenerationRequest, settings: Settings) -> tuple[str, str | None, str | None]:
    """(size, aspect ratio, resolution) as asked: the call's own values first, then the configured
    defaults; a ratio or resolution (asked, or configured) outranks a configured size."""
    try:
        ratio = aspect_ratio(request.aspect_ratio or "") or None
        tier = resolution(request.resolution or "") or None
    except ValueError as exc:
        which = "aspect ratio" if request.aspect_ratio and not _valid(aspect_ratio, request.aspect_ratio) else "resolution"
        value = request.aspect_ratio if which == "aspect ratio" else request.resolution
        raise InputError(f"The {which} {value!r} {exc}.") from None
    size = normal_size(str(request.size)) if request.size not in (None, "") else None
    if size is not None and TIER_SIZE.match(size):  # Seedream's "2K": a resolution, the model picks the shape
        if tier:
            raise InputError(f"Give either a size ({size}) or a resolution, not both.")
        size, tier = None, size
    if size not in (None, "auto") and (ratio or tier):
        raise InputError(f"Give either a size ({size}) or an aspect ratio and resolution, not both.")
    if size is None and not (ratio or tier):
        ratio, tier = settings.aspect_ratio or None, settings.resolution or None
        size = "auto" if (ratio or tier) else settings.size
        if TIER_SIZE.match(size):  # IMAGE_RELAY_DEFAULT_SIZE=2K
            size, tier = "auto", tier or size
    elif size is None:
        ratio, tier = ratio or settings.aspect_ratio or None, tier or settings.resolution or None
        size = "auto"
    return size, ratio, tier


def _valid(parse, value: str) -> bool:
    try:
        parse(value)
        return True
    except ValueError:
        return False


def _some_transparency(data: bytes) -> bool:
    from .images.pillow import has_transparent_pixel
    return has_transparent_pixel(data)


def _converted_mask(mask: SourceImage, raw: str) -> tuple[SourceImage, str]:
    """A gray mask (white = change) becomes the alpha mask the API expects; anything else is refused."""
    from .images.pillow import mask_to_alpha
    data = mask_to_alpha(mask.data)
    if data is None:
        raise InputError(f"The mask {Path(raw).name} has no transparency and is not a black-and-white mask: mark "
                         "the area to change in white on black, or as transparent pixels in a PNG.")
    info = read_info(data)
    return (SourceImage(path=mask.path.with_suffix(".png"), data=data, info=info),
            f"The mask {mask.path.name} was black-and-white; it was converted to the alpha mask the API expects "
            "(white became the area to change).")


def _pick(value, default):
    return default if value is None or value == "" else value


def _one_of(label: str, value: str, options: tuple[str, ...]) -> str:
    value = str(value).strip().lower()
    if value not in options:
        raise InputError(f"The {label} {value!r} is not valid; use one of {', '.join(options)}.")
    return value


def _in_range(label: str, value, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"The {label} must be a whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise InputError(f"The {label} is {number}; it must be from {low} to {high}.")
    return number


def _read_image(raw: str, base: Path, label: str, limit: int, formats: tuple[str, ...]) -> SourceImage:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise InputError(f"{label} {raw} does not exist or is not a file.")
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{label} {raw} is {size / 1048576:.1f} MB; the limit is {limit // 1048576} MB.")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{label} {raw} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    info = read_info(data)
    # Judged by magic bytes, never by extension: a user's non-image file is never uploaded.
    if info is None or info.format not in formats:
        kinds = " or ".join(f.upper() for f in formats)
        raise InputError(f"{label} {raw} is not a {kinds} image.")
    return SourceImage(path=path.resolve(), data=data, info=info)

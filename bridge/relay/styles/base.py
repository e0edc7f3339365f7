"""The interface every upstream style implements, and the request pieces several of them share.

A style is one shape a relay speaks (the Responses API, the Images API, Chat Completions with
image output, Gemini's native API): it builds the HTTP call for a job and reads the answer into
Signals through its ``Reader``. It also says what the rest of the bridge must know about it:
which JSON keys carry image base64 (so the payload extractor can decode them straight to files),
which settings it needs, whether one call makes one image, and how a relay's 400 about one of its
fields can be recovered from without the user's help. Pure, no I/O.

What a new shape may need is already here: an ``HttpCall`` names its method, its own base, key
header and headers (a task polled by ``GET``, an API under another prefix, ``Prefer``); a reader's
``Signal`` kinds are open (``task``: a task to poll, with ``poll`` building the ``GET``);
``refused_field`` can name any field a relay refuses; ``unbilled`` says which failures the relay
documents as not billed (retried like a connection refused); ``mode`` names the API mode a route
belongs to (OpenRouter's ``/images`` is the Images API).
"""
from __future__ import annotations

import base64

from ...config import Settings
from ...errors import BridgeError
from ...user_request import Job, SourceImage
from ..call import HttpCall
from ..diagnose import REPHRASE
from ..events import Reader


class Style:
    name = ""
    title = ""  # for messages: "the Responses API"
    needs: tuple[str, ...] = ("image_model",)  # settings the mode cannot run without
    payload_keys: tuple[str, ...] = ()  # JSON string keys whose values are image base64
    link_keys: tuple[str, ...] = ()  # JSON string keys whose values are links or data URLs
    text_images: bool = False  # data: URLs inside text (Markdown images) are taken out as they arrive
    one_image_per_call = False  # n > 1 means n calls side by side
    partial_images = False  # the style can stream partial images (partial_images is sent)
    keeps_turns = False  # an answer's id lets a later edit refer to its image (previous_response_id)

    @property
    def mode(self) -> str:
        """The API mode this style is a route of (what results and progress name)."""
        return self.name

    def model(self, settings: Settings) -> str | None:
        """The model the call names."""
        return settings.image_model

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        """The request for one attempt; ``dropped`` names parameters the relay refused."""
        raise NotImplementedError

    def reader(self) -> Reader:
        raise NotImplementedError

    def sent(self, call: HttpCall) -> set[str]:
        """Names of the parameters the call sent, for parameter negotiation."""
        if call.json is not None:
            return set(call.json)
        return {name for name, _ in call.fields}

    def refused_field(self, error: BridgeError, call: HttpCall) -> str | None:
        """A field of this style that the relay's 400 refused (nothing was billed), to drop and
        retry once without; the generic negotiation covers the OpenAI fields."""
        return None

    def poll(self, task_id: str) -> HttpCall | None:
        """The request that asks the relay about a task it answered with; None: this style has none."""
        return None

    def unbilled(self, error: BridgeError) -> str | None:
        """A sentence saying the relay does not bill this failure (so it may be tried again), else None."""
        return None


def image_options(job: Job, settings: Settings) -> dict:
    """The OpenAI image fields shared by the Responses tool and the Images API, in OpenAI's order."""
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


def without(params: dict, dropped: frozenset[str]) -> dict:
    return {k: v for k, v in params.items() if k not in dropped}


def b64(image: SourceImage) -> str:
    return b64_bytes(image.data)


def b64_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(image: SourceImage) -> str:
    return f"data:{image.info.mime_type};base64,{b64(image)}"


def streams(settings: Settings) -> bool:
    """For the styles whose streams carry no progress worth the risk (chat, gemini): stream only
    when IMAGE_RELAY_STREAM=true asks for it."""
    return settings.stream == "true"


# Styles with no mask field (Gemini, chat) send the mask as one more image and say what it is.
MASK_NOTE = ("The last image is a mask for the first image: change only the areas that are white in the mask, keep "
             "everything else exactly as it is, and do not draw the mask itself.")


def visible_mask(job: Job) -> bytes:
    """The job's alpha mask as a black-and-white PNG (white = the area to change)."""
    from ...images.pillow import alpha_to_visible
    return alpha_to_visible(job.mask.data)

"""Upstream styles: one module per shape a relay speaks, each behind the interface of ``base.Style``
(build the call; read the answer into Signals and image bytes).

    responses   POST /responses with the image_generation tool (SSE); a Markdown image as fallback
    images      POST /images/generations (JSON), /images/edits (multipart)
    chat        POST /chat/completions with image output, in every shape relays use
    gemini      POST {gemini base}/models/{model}:generateContent (Gemini's native API)

``auto`` is not a style but a plan: which styles to try, in order, for the configured model.
"""
from __future__ import annotations

from ...config import Settings
from ...user_request import Job
from .. import models
from ..call import HttpCall
from . import chat, gemini, images, responses
from .base import Style

STYLES: dict[str, Style] = {s.STYLE.name: s.STYLE for s in (responses, images, chat, gemini)}


def get(mode: str) -> Style:
    return STYLES[mode]


def plan(mode: str, image_model: str | None, n: int) -> tuple[str, ...]:
    """The styles to try, in order: each next one only when the relay has no route for the one
    before (404/405/501 before any answer byte, so nothing was billed). ``auto`` goes by the model
    family: Gemini's native API, else Chat Completions, for Gemini image models; the Responses API,
    else the Images API, for the others (the Images API at once for several images)."""
    if mode != "auto":
        return (mode,)
    if models.family(image_model) == "gemini":
        return ("gemini", "chat")
    return ("images",) if n > 1 else ("responses", "images")


def build_call(job: Job, settings: Settings, mode: str, *, dropped: frozenset[str] = frozenset()) -> HttpCall:
    """The request for one attempt in ``mode``."""
    return get(mode).call(job, settings, dropped)


__all__ = ["STYLES", "Style", "build_call", "get", "plan"]

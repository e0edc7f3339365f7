"""Upstream styles: one module per shape a relay speaks, each behind the interface of ``base.Style``
(build the call; read the answer into Signals and image bytes).

    responses   POST /responses with the image_generation tool (SSE); a Markdown image as fallback
    images      POST /images/generations (JSON), /images/edits (multipart); relays' vendor fields, links,
                async tasks polled with GET /images/generations/{task_id}
    openrouter  POST /images: OpenRouter's Image API, a route of the images mode
    chat        POST /chat/completions with image output, in every shape relays use
    gemini      POST {gemini base}/models/{model}:generateContent (Gemini's native API)

``auto`` is not a style but a plan: which styles to try, in order, for the configured model; a
mode with several routes (``images``: ``/images/generations``, else OpenRouter's ``/images``) is
a plan too, its working route remembered per relay.
"""
from __future__ import annotations

from ...config import Settings
from ...user_request import Job
from .. import models
from ..call import HttpCall
from ..extra_body import merged
from . import chat, gemini, images, openrouter, responses
from .base import Style

STYLES: dict[str, Style] = {s.STYLE.name: s.STYLE for s in (responses, images, openrouter, chat, gemini)}
ROUTES = {"images": ("images", "openrouter")}  # a mode's routes, tried in turn when one is missing


def get(mode: str) -> Style:
    return STYLES[mode]


def plan(mode: str, image_model: str | None, n: int, remembered: str | None = None) -> tuple[str, ...]:
    """The styles to try, in order: each next one only when the relay has no route for the one
    before (404/405/501 before any answer byte, so nothing was billed). ``auto`` goes by the model
    family: Gemini's native API, else Chat Completions, for Gemini image models; the Responses API,
    else the Images API, for GPT models (the Images API at once for several images); the Images API
    for the models sold only there (Seedream, Jimeng, Grok). ``remembered``: the route of ``mode``
    that worked last time on this relay, tried first."""
    if mode != "auto":
        routes = ROUTES.get(mode, (mode,))
        if remembered in routes:
            return (remembered, *(r for r in routes if r != remembered))
        return routes
    family = models.family(image_model)
    if family == "gemini":
        return ("gemini", "chat")
    if family in ("seedream", "jimeng", "grok") or n > 1:
        return ROUTES["images"]
    return ("responses", *ROUTES["images"])


def build_call(job: Job, settings: Settings, mode: str, *, dropped: frozenset[str] = frozenset()) -> HttpCall:
    """The request for one attempt in ``mode``, with the user's extra body fields."""
    return merged(get(mode).call(job, settings, dropped), settings.extra_body)


__all__ = ["STYLES", "Style", "build_call", "get", "plan"]

"""The usage and cost a relay reports, in one shape whatever the style: pure.

Every result carries ``usage: {input_tokens, output_tokens, image_tokens, cost}`` with the keys the
relay's answer gave (none invented, none guessed); the relay's own form stays in the debug summary
(``debug_summary.usage``) and in the raw log. What each style reports:

    responses   ``usage`` (the text model) and ``tool_usage.image_gen`` (the image tool): tokens are
                the two added up, image tokens the tool's output
    images      ``usage``: input and output tokens, image tokens from ``output_tokens_details`` (all
                output tokens are image tokens for GPT image models); Seedream reports only
                ``output_tokens``; OpenRouter's Image API adds ``cost``
    chat        ``usage``: prompt and completion tokens, ``completion_tokens_details.image_tokens``,
                and ``cost`` on OpenRouter
    gemini      ``usageMetadata``: prompt and candidate token counts, image tokens from
                ``candidatesTokensDetails`` (modality IMAGE)

``cost`` is what the relay says the call cost, in US dollars as OpenRouter gives it (``usage.cost``)
and as xAI does in ticks of 10^-10 dollars (``usage.cost_in_usd_ticks``, converted); relays that
resell models rarely report it.
"""
from __future__ import annotations

from ..i18n import N_

TICKS_PER_USD = 10_000_000_000  # xAI's cost_in_usd_ticks
KEYS = ("input_tokens", "output_tokens", "image_tokens", "cost")

# What each style's relays report, for the doctor and the docs.
REPORTED = {
    "responses": N_("input and output tokens of the text model and of the image tool (tool_usage.image_gen), image "
                    "tokens"),
    "images": N_("input, output and image tokens (Seedream: output tokens only; OpenRouter's Image API and xAI: also "
                 "cost)"),
    "chat": N_("prompt and completion tokens, image tokens when the relay splits them out, cost on OpenRouter"),
    "gemini": N_("prompt and candidate tokens (usageMetadata), image tokens by modality"),
}


def normalize(raw: object) -> dict | None:
    """The normalized usage of one answer's raw usage object (any style's), or None when it says nothing."""
    if not isinstance(raw, dict):
        return None
    if "promptTokenCount" in raw or "candidatesTokenCount" in raw:
        found = _gemini(raw)
    elif isinstance(raw.get("tool_usage"), dict):
        found = _responses(raw)
    else:
        found = _plain(raw)
    found = {key: value for key, value in found.items() if value is not None}
    return found or None


def combine(usages: list[dict | None]) -> dict | None:
    """Several calls' normalized usage (images made side by side) added up, key by key."""
    total: dict = {}
    for usage in usages:
        for key, value in (usage or {}).items():
            if key in KEYS:
                total[key] = total.get(key, 0) + value
    if "cost" in total:
        total["cost"] = round(total["cost"], 8)
    return total or None


def text(usage: dict | None) -> str | None:
    """One line for people and the model: "Usage reported by the relay: 50 input tokens, ..."."""
    if not usage:
        return None
    parts = [f"{usage[key]:,} {label}" for key, label in (("input_tokens", "input tokens"),
                                                         ("output_tokens", "output tokens"),
                                                         ("image_tokens", "image tokens")) if key in usage]
    if "cost" in usage:
        parts.append(f"cost {usage['cost']:g}")
    return "Usage reported by the relay: " + ", ".join(parts) + "."


def _plain(raw: dict) -> dict:
    """Images API, Chat Completions, OpenRouter and Seedream: OpenAI's names or the chat ones."""
    inputs = _number(raw.get("input_tokens"), raw.get("prompt_tokens"))
    outputs = _number(raw.get("output_tokens"), raw.get("completion_tokens"))
    details = raw.get("output_tokens_details") or raw.get("completion_tokens_details")
    images = _number((details or {}).get("image_tokens")) if isinstance(details, dict) else None
    if images is None and "output_tokens" in raw and "completion_tokens" not in raw and "prompt_tokens" not in raw:
        images = outputs  # the Images API: every output token is an image token (GPT image models, Seedream)
    cost = _number(raw.get("cost"), kind=float)
    ticks = _number(raw.get("cost_in_usd_ticks"))
    if cost is None and ticks is not None:
        cost = round(ticks / TICKS_PER_USD, 10)
    return {"input_tokens": inputs, "output_tokens": outputs, "image_tokens": images, "cost": cost}


def _responses(raw: dict) -> dict:
    text_model = _plain(raw)
    tool = (raw.get("tool_usage") or {}).get("image_gen")
    image = _plain(tool) if isinstance(tool, dict) else {}
    return {"input_tokens": _sum(text_model.get("input_tokens"), image.get("input_tokens")),
            "output_tokens": _sum(text_model.get("output_tokens"), image.get("output_tokens")),
            "image_tokens": image.get("image_tokens"), "cost": text_model.get("cost")}


def _gemini(raw: dict) -> dict:
    images = None
    for item in raw.get("candidatesTokensDetails") or []:
        if isinstance(item, dict) and str(item.get("modality", "")).upper() == "IMAGE":
            images = _sum(images, _number(item.get("tokenCount")))
    outputs = _sum(_number(raw.get("candidatesTokenCount")), _number(raw.get("thoughtsTokenCount")))
    return {"input_tokens": _number(raw.get("promptTokenCount")), "output_tokens": outputs, "image_tokens": images,
            "cost": None}


def _number(*values: object, kind=int):
    """The first value that is a number (or a numeric string), as ``kind``; None if there is none."""
    for value in values:
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = kind(float(value)) if kind is int else float(value)
        except (TypeError, ValueError):
            continue
        if number >= 0:
            return number
    return None


def _sum(*values):
    known = [v for v in values if v is not None]
    return sum(known) if known else None

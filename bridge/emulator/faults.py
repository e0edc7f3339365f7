"""Fault modes: canned relay misbehaviour, each modelled on one seen in the wild.

Quirk numbers (R1–R32) refer to the upstream protocol notes. Faults that replace the whole
answer live here as canned responses; faults that bend a stream or a body are applied where
that stream or body is built (``responses.py``, ``images.py``, ``wire.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .pages import SPA_PAGE, cloudflare_page

# Faults that change what is generated or how it is written; see the modules named above.
STREAM_FAULTS = frozenset(
    {
        "leading-whitespace", "json-for-stream", "no-event-lines", "keepalive", "crlf", "cr", "bom",
        "status-generating", "final-in-completed-only", "url-result", "data-url-result",
        "error-event-flat", "error-event-nested", "error-data-only", "response-failed",
        "response-failed-moderation", "response-incomplete", "item-failed", "text-only",
        "cut-after-partial", "no-final", "bad-image", "invalid-base64", "downscale", "n-downgrade",
        "stall", "buffered", "big-event-cut", "huge-dims", "truncated-png", "file-link", "endless-line", "endless-image", "cut-mid-final",
        "stall-after-final",
        # Gemini and chat answers without an image (gemini.py, chat.py)
        "image-safety", "prompt-blocked", "no-candidates", "content-filter", "extra-body-400",
        # the Images API as relays serve it (images.py, tasks.py, openrouter.py)
        "prefixed-b64", "expired-link", "json-link", "item-error", "partial-failed", "task-failed",
        "openrouter-502",
    }
)
# Faults handled by the request handler itself (routing and the connection).
HANDLER_FAULTS = frozenset({"drop", "processing-102", "no-responses-route", "edits-501", "unknown-param",
                            "redirect", "gzip-bomb", "models-500", "no-gemini-route", "no-chat-route",
                            "openrouter-only"})


@dataclass
class Canned:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def error_body(message: str, type_: str = "invalid_request_error", param=None, code=None, **extra) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def canned_json(status: int, payload: dict, headers: dict[str, str] | None = None) -> Canned:
    return Canned(status, json.dumps(payload).encode(), headers=headers or {})


def canned_fault(name: str, token: str) -> Canned | None:
    """The whole answer for faults that replace it, or None for the other faults."""
    if name == "http-400-json":
        return canned_json(400, error_body("Invalid value for size.", param="size", code="invalid_value"))
    if name == "http-401":
        # Relays echo the key they were given verbatim; the bridge has to redact it.
        message = (
            f"Incorrect API key provided: {token}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return canned_json(401, error_body(message, code="invalid_api_key"))
    if name == "moderation":
        return canned_json(400, moderation_body())
    if name == "quota":
        message = (
            "You exceeded your current quota, please check your plan and billing details. For more "
            "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
        )
        return canned_json(429, error_body(message, "insufficient_quota", code="insufficient_quota"))
    if name == "rate-limit":
        message = (
            "Rate limit reached for gpt-image-1.5 in organization org-emulator on images per min (IPM): "
            "Limit 5, Used 5, Requested 1. Please try again in 200ms."
        )
        headers = {
            "retry-after-ms": "200",
            "Retry-After": "1",
            "x-ratelimit-limit-requests": "5",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "200ms",
        }
        return canned_json(429, error_body(message, "requests", code="rate_limit_exceeded"), headers)
    if name == "http-500-json":
        message = "The server had an error while processing your request. Sorry about that!"
        return canned_json(500, error_body(message, "server_error"))
    if name == "http-502-html":
        page = cloudflare_page(502, "Bad gateway", "The web server reported a bad gateway error.")
        return Canned(502, page, "text/html; charset=UTF-8")
    if name == "http-503-retry-after":
        body = error_body("The engine is currently overloaded, please try again later.", "server_error",
                          code="server_is_overloaded")
        return canned_json(503, body, {"Retry-After": "1"})
    if name == "http-524-html":
        detail = ("The origin web server timed out responding to this request. "
                  "A timeout occurred: the connection to the origin was made but it did not reply in time.")
        return Canned(524, cloudflare_page(524, "A timeout occurred", detail), "text/html; charset=UTF-8")
    if name == "http-504-html":
        detail = "The web server reported a gateway time-out error."
        return Canned(504, cloudflare_page(504, "Gateway time-out", detail), "text/html; charset=UTF-8")
    if name == "html-200":
        return Canned(200, SPA_PAGE, "text/html; charset=utf-8")
    if name == "error-200":
        upstream = _compact(error_body("Invalid value for size.", param="size", code="invalid_value"))
        inner = {"error": {"message": f"upstream 400: {upstream}", "type": "upstream_error",
                           "code": "image_stream_failed"}}
        # The leading space is the relay's early flush that committed the 200 (R11).
        return Canned(200, b" " + _compact(inner).encode())
    if name == "gateway-html-json":
        # LiteLLM wraps an upstream page into its own JSON error (gateways.md).
        page = cloudflare_page(502, "Bad gateway", "The web server reported a bad gateway error.").decode()
        message = f"litellm.BadGatewayError: BadGatewayError: OpenAIException - {page}"
        return canned_json(502, error_body(message, None, code="502"))
    if name == "gateway-html-message":
        page = cloudflare_page(502, "Bad gateway", "The web server reported a bad gateway error.").decode()
        return canned_json(500, {"html-message": page})  # Portkey's wrapping
    if name == "gateway-upstream-401":
        message = ("litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided: "
                   "sk-upstr-9f8e7d6c5b4a39281706. You can find your API key at https://platform.openai.com/account/api-keys.")
        return canned_json(401, error_body(message, None, code="401"))
    if name == "same-400":
        # A gateway that answers everything alike, e.g. LiteLLM without a database for an unknown key.
        return canned_json(400, error_body("No connected db.", "no_db_connection", code="400"))
    if name == "blocked-400":
        # new-api converting a Gemini answer blocked at the prompt (no candidates, a blockReason).
        return canned_json(400, error_body("request blocked by Gemini API: PROHIBITED_CONTENT", "new_api_error",
                                           code="prompt_blocked"))
    if name == "error-sse-content-type":
        inner = _compact({"error": {"message": "Invalid prompt", "type": "invalid_request_error"}})
        body = _compact({"error": {"message": inner, "type": "invalid_request_error"}}).encode()
        return Canned(400, body, "text/event-stream")
    return None


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def moderation_body() -> dict:
    message = (
        "Your request was rejected by the safety system. If you believe this is an error, contact us at "
        "help.openai.com and include the request ID req_emulator0001. safety_violations=[sexual]."
    )
    return error_body(
        message, "image_generation_user_error", code="moderation_blocked",
        moderation_details={"moderation_stage": "output", "categories": ["sexual"]},
    )


CANNED_FAULTS = frozenset(
    {
        "http-400-json", "http-401", "moderation", "quota", "rate-limit", "http-500-json", "http-502-html",
        "http-503-retry-after", "http-524-html", "http-504-html", "html-200", "error-200", "error-sse-content-type",
        "gateway-html-json", "gateway-html-message", "gateway-upstream-401", "same-400", "blocked-400",
    }
)
ALL_FAULTS = CANNED_FAULTS | HANDLER_FAULTS | STREAM_FAULTS

"""Turn what a relay says about a failure into one of the bridge's errors.

Relays report failures as HTTP statuses with JSON or HTML bodies, as JSON errors inside a 200,
and as ``error`` events of two shapes (upstream-protocol.md §3, R6, R11, R25, R26, R28).
"""
from __future__ import annotations

import html
import json
import re

from ..errors import BridgeError, RelayFailure, RelayRejected, scrub_credentials

_MODERATION = ("moderation_blocked", "content_policy", "image_content_policy_violation", "content_filter",
               "safety_violation", "safety system")
# A model's own safety filter (Gemini), as relays pass it on: new-api's 400 "request blocked by Gemini
# API: <REASON>" (code prompt_blocked) and the finish reasons quoted in gateways' messages.
_CONTENT_POLICY = ("prompt_blocked", "blocked by gemini", "image_safety", "prohibited_content", "blockreason",
                   # Seedream (Volcengine Ark): OutputImageSensitiveContentDetected and its kin, per image
                   "sensitivecontentdetected")
# What a blocked image's error says, whichever way the block was reported.
REPHRASE = ("Nothing was retried, since each try may be billed: rephrase the prompt (describe the scene rather than "
            "real people, brands or well-known characters, and leave out violent or explicit detail) and try again.")
_QUOTA = ("insufficient_quota", "insufficient_user_quota", "credit_balance_exhausted", "quota", "billing",
          "余额", "额度")
_REQUEST_ID = re.compile(r"\s*\(request id: [^)]*\)\s*$")
_PAGE = re.compile(r"<!doctype|<html|<head|<body|<title", re.I)
_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")
# A gateway's wording for a failure of its own upstream (LiteLLM: "litellm.AuthenticationError:
# ... OpenAIException - ..."), where the user's key is not the one at fault.
_UPSTREAM = re.compile(r"litellm\.|openaiexception|upstream|provider (?:api )?key|from the provider", re.I)


def error_from_payload(error: object, status: int | None = None) -> BridgeError:
    """An error object (flat or nested, with code, type, message) as a BridgeError."""
    if isinstance(error, dict) and isinstance(error.get("error"), (dict, str)):
        error = error["error"]
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or "").strip()
    inner = _nested_json_error(message)
    if inner:
        error = {**error, **{k: v for k, v in inner.items() if v}}
        message = str(inner.get("message") or message)
    code = error.get("code")
    kind = str(error.get("type") or "")
    code_text = str(code) if code not in (None, "") else ""
    if status is None and isinstance(code, int) and 400 <= code <= 599:
        status = code
    page = error.get("html-message") if isinstance(error.get("html-message"), str) else None
    upstream = _UPSTREAM.search(message) is not None
    if page or _PAGE.search(message):
        return html_error(status or 502, page or message, upstream=upstream)
    message, embedded = _gateway_plain(message)
    if embedded:
        code_text = code_text or str(embedded.get("code") or "")
        kind = f"{kind} {embedded.get('type') or ''} {embedded.get('code') or ''}".strip()
    result = classify(status, code_text, kind, _REQUEST_ID.sub("", message), upstream=upstream)
    param = error.get("param")
    result.param = str(param) if param else None
    return result


def classify(status: int | None, code: str, kind: str, message: str, *, upstream: bool | None = None) -> BridgeError:
    """Pick exit class and error code from the status, the relay's code and type, and its message.
    ``upstream``: the text says the failure is the gateway's own upstream (not the user's key)."""
    upstream_text = _UPSTREAM.search(message) is not None if upstream is None else upstream
    text = f"{code} {kind} {message}".lower()
    upstream = code or kind or None
    shown = _shorten(message) or (f"HTTP {status}" if status else "")
    if any(word in text for word in _CONTENT_POLICY):
        return RelayRejected(f"The model's safety filter blocked the request: {shown} {REPHRASE}",
                             code="content_policy", status_code=status, upstream_code=upstream)
    if any(word in text for word in _MODERATION):
        return RelayRejected(f"The relay's safety system refused the request: {shown}",
                             code="moderation_blocked", status_code=status, upstream_code=upstream)
    if any(word in text for word in _QUOTA):
        return RelayRejected(f"The relay account is out of quota or credit: {shown}",
                             code="quota_exceeded", status_code=status, upstream_code=upstream)
    if status == 429 or "rate_limit" in text:
        return RelayRejected(f"The relay is rate limiting requests: {shown}",
                             code="rate_limited", status_code=status, retryable=True, upstream_code=upstream)
    if (status in (401, 403) or "invalid_api_key" in text) and upstream_text:
        return RelayRejected(f"The relay's own upstream refused the relay's key (HTTP {status or 401}): {shown} "
                             "This is the gateway's configuration, not IMAGE_RELAY_API_KEY: tell whoever runs the "
                             "gateway.", code="upstream_unauthorized", status_code=status, upstream_code=upstream)
    if status in (401, 403) or "invalid_api_key" in text:
        return RelayRejected(f"The relay refused the API key (HTTP {status or 401}): {shown} "
                             "Check IMAGE_RELAY_API_KEY.", code="unauthorized", status_code=status, upstream_code=upstream)
    if status == 501:
        return RelayRejected(f"The relay does not implement this endpoint (HTTP 501): {shown}",
                             code="not_implemented", status_code=status, upstream_code=upstream)
    if status is not None and 400 <= status < 500 or (status is None and _is_client_error(text)):
        return RelayRejected(f"The relay rejected the request{_status(status)}: {shown}",
                             code="rejected", status_code=status, upstream_code=upstream)
    return RelayFailure(f"The relay or its upstream failed{_status(status)}: {shown or 'no reason given.'}",
                        code="relay_error", status_code=status,
                        retryable=status in (502, 503, 504) or (status or 0) >= 520, upstream_code=upstream)


def error_from_body(status: int, content_type: str, body: bytes) -> BridgeError:
    """A non-success HTTP answer (or a 200 that carries an error or a web page) as a BridgeError."""
    text = body.decode("utf-8", "replace").strip()
    if "html" in content_type.lower() or (not text.startswith(("{", "[")) and _PAGE.search(text[:4096])):
        return html_error(status, text)
    try:
        payload = json.loads(text)
    except ValueError:
        return classify(status, "", "", text)
    if isinstance(payload, dict) and isinstance(payload.get("html-message"), str):
        return html_error(status, payload["html-message"], upstream=True)  # Portkey's wrapping of a page
    if isinstance(payload, dict) and payload.get("error"):
        return error_from_payload(payload["error"], status)
    if isinstance(payload, dict) and payload.get("message"):
        return error_from_payload(payload, status)
    return classify(status, "", "", text)


def html_error(status: int, text: str, *, upstream: bool = False) -> BridgeError:
    """HTML pages, bare or wrapped in a gateway's JSON, are reduced to the status and a short reason."""
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    reason = _shorten(html.unescape(re.sub(r"\s+", " ", match.group(1))).strip()).rstrip(".") if match else ""
    error = _page_error(status, reason, upstream)
    error.from_page = True
    return error


def _page_error(status: int, reason: str, upstream: bool) -> BridgeError:
    if upstream:
        return RelayFailure(f"The relay's upstream failed with an HTML error page (HTTP {status}"
                            f"{f', {reason}' if reason else ''}); the gateway passed it on.",
                            code="relay_error", status_code=status, retryable=status in (502, 503, 504) or status >= 520)
    if status < 300:
        return RelayFailure("The relay answered with a web page instead of the API; check that IMAGE_RELAY_BASE_URL "
                            f"is the API base and ends with /v1{f' (page title: {reason})' if reason else ''}.",
                            code="html_page", status_code=status)
    return RelayFailure(f"The relay returned HTTP {status} with an HTML error page{f' ({reason})' if reason else ''}.",
                        code="relay_error", status_code=status, retryable=status in (502, 503, 504) or status >= 520)


_LITELLM_PREFIX = re.compile(r"litellm\.(\w+):\s*(?:\1:\s*)?(?:\w+Exception\s*-\s*)?")
_LITELLM_SUFFIX = re.compile(r"\s*(?:Received Model Group=\S+\s*)?(?:Available Model Group Fallbacks=\S+\s*)?"
                             r"LiteLLM: model group .*$|\s*Received Model Group=.*$", re.S)
_SSE_TEXT = re.compile(r"(?:event:\s*\S+\s+)?data:\s*\{.*", re.S)


def _gateway_plain(message: str) -> tuple[str, dict | None]:
    """A gateway's wrapping reduced to the upstream's own words: LiteLLM's class-name prefix and
    model-group suffix go, an embedded JSON error gives its message (and its code and type, also
    returned), a raw event stream is named instead of quoted."""
    text = _LITELLM_SUFFIX.sub("", _LITELLM_PREFIX.sub("", message)).strip()
    start, end = text.find("{"), text.rfind("}")
    inner = None
    if 0 <= start < end and not _SSE_TEXT.search(text[:start + 1]):
        inner = _nested_json_error(text[start:end + 1])
        if inner and inner.get("message"):
            text = (text[:start].strip() + " " + str(inner["message"])).strip()
    text = _SSE_TEXT.sub("(the upstream's raw event stream, which the gateway could not pass on)", text)
    return text or message, inner


def _nested_json_error(message: str) -> dict | None:
    if not message.startswith("{"):
        return None
    try:
        inner = json.loads(message)
    except ValueError:
        return None
    if isinstance(inner, dict) and isinstance(inner.get("error"), dict):
        return inner["error"]
    return inner if isinstance(inner, dict) and "message" in inner else None


def _is_client_error(text: str) -> bool:
    return any(w in text for w in ("invalid_request", "invalid_value", "unknown_parameter", "user_error",
                                    "invalid_prompt", "invalid_image", "image_too", "unsupported"))


def _status(status: int | None) -> str:
    return f" (HTTP {status})" if status else ""


def _shorten(text: str, limit: int = 300) -> str:
    """Relay text as one short line: no markup, nothing shaped like a credential."""
    text = scrub_credentials(re.sub(r"\s+", " ", _TAG.sub(" ", text)).strip())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    if text and text[-1] not in ".!?…":
        text += "."
    return text

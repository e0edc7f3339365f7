"""Which failed requests may be sent again, which failures are a proxy's time-out, and which a
gateway's that cannot pass streams on: pure.

Only what surely was not billed is retried (SPEC §3): a connection refused, a 408 from the relay
itself, a 429 without a quota message, a 503 with Retry-After, and what a style documents as not
billed (OpenRouter's 502); 5xx only when the user opted in (IMAGE_RELAY_RETRY_SERVER_ERRORS).

A proxy's time-out is never retried, opt-in or not: Cloudflare answers 524 after about 100 s while
the relay behind it goes on making (and billing) the image, and gateways do the same with a 504
or a "gateway time-out" page (408, 502). The error says so, and how to ask the relay for an async
task instead (IMAGE_RELAY_ASYNC=true), which answers at once and is polled.
"""
from __future__ import annotations

import re

from ..errors import BridgeError, NetworkError, RelayFailure

MAX_RETRY_WAIT = 60.0
_TIMED_OUT = re.compile(r"time-?out|timed out", re.I)


def proxy_timeout(error: BridgeError, async_on: bool) -> BridgeError | None:
    """The proxy time-out ``error`` stands for, as its own error, or None when it is not one."""
    status = error.status_code
    if error.stream_started or status is None:
        return None
    if not (status in (504, 524) or (status in (408, 502) and error.from_page and _TIMED_OUT.search(error.message))):
        return None
    how = ("IMAGE_RELAY_ASYNC is on, but the relay did not answer with a task, so it may not offer async tasks: ask "
           "the relay how to avoid its proxy's time-out" if async_on else
           "Set IMAGE_RELAY_ASYNC=true so the relay answers at once with a task to poll (new-api and its kin offer "
           "it), or choose a faster setting (a lower quality)")
    found = RelayFailure(f"A proxy in front of the relay gave up waiting (HTTP {status}), but the relay may still be "
                         f"making the image and may bill it; it was not retried, so it is not paid twice. {how}.",
                         code="proxy_timeout", status_code=status, retryable=False, upstream_code=error.upstream_code)
    found.from_page = error.from_page
    return found


def retry_wait(error: BridgeError, retries: int, *, max_retries: int, server_errors: bool, unbilled: bool,
               remaining: float) -> float | None:
    """Seconds to wait before sending again, or None when a retry could bill twice or cannot help."""
    if retries >= max_retries or error.stream_started or error.code == "proxy_timeout":
        return None
    backoff = min(8.0, 0.5 * 2 ** retries)
    wait = _billing_safe(error, backoff, server_errors, unbilled)
    return wait if wait is not None and wait < remaining - 1.0 else None


def _billing_safe(error: BridgeError, backoff: float, server_errors: bool, unbilled: bool) -> float | None:
    status = error.status_code
    if isinstance(error, NetworkError):
        return backoff if error.code == "cannot_connect" and error.retryable else None
    if unbilled:
        return backoff
    if status == 408:
        return backoff
    if status == 429 and error.code == "rate_limited":
        wait = error.retry_after if error.retry_after is not None else backoff
        return wait if wait <= MAX_RETRY_WAIT else None
    if status == 503 and error.retry_after is not None:
        return error.retry_after if error.retry_after <= MAX_RETRY_WAIT else None
    if server_errors and status is not None and (status in (500, 502, 504) or status >= 520):
        return backoff
    return None


def gateway_cannot_stream(error: BridgeError) -> bool:
    """A streamed call that failed the way gateways fail on streams: a bare 500 before any stream
    byte (LiteLLM on an images stream, Portkey on any SSE), a complaint about streaming, or an
    answer that is neither a stream nor JSON. Upstream error pages passed on are not that."""
    if error.stream_started or error.from_page:
        return False
    return (isinstance(error, RelayFailure) and error.status_code == 500) or error.code == "unexpected_content" \
        or re.search(r"\bstream", error.message, re.I) is not None

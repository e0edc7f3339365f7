"""The one exception tree of the bridge.

    BridgeError                      exit code   result error.code
    ├── InputError                   2           invalid_input
    ├── ConfigError                  3           config_missing / config_invalid
    ├── RelayRejected                4           rejected, moderation_blocked, content_policy (a model's safety
    │                                            filter: Gemini's IMAGE_SAFETY, a blocked prompt, content_filter,
    │                                            Seedream's OutputImageSensitiveContentDetected), quota_exceeded,
    │                                            rate_limited, task_not_found, ...
    ├── LimitReached                 4           caller_limit (a shared server's per-caller limits; nothing sent)
    ├── RelayFailure                 5           relay_error, upstream_error, proxy_timeout (a 524 or gateway
    │                                            time-out: maybe still billed, never retried), link_expired and
    │                                            link_failed (made and billed; error.image_urls keeps the link),
    │                                            task_failed (the relay's async task failed)
    ├── NetworkError                 6           cannot_connect
    │   └── RequestTimeout           6           timeout
    ├── ProtocolError                7           no_image, bad_image, protocol_error, text_only (the model's words
    │                                            instead of an image, quoted, at most 300 characters)
    ├── StorageError                 8           storage_error
    ├── StreamBroken                 9           stream_broken
    └── Cancelled                    130/143/129 interrupted (Ctrl-C, SIGTERM, SIGHUP)

An error of a run that stopped while the relay's async task ran carries ``task_id`` (the image can
still be fetched without a new generation).

Every message is one or two sentences a person can act on. Messages never carry the API key,
an Authorization header or the relay's address: the transport builds them from status codes
and relay error text, and `redact` scrubs what a relay echoes back.
"""
from __future__ import annotations

import re
from enum import IntEnum, unique


@unique
class ExitCode(IntEnum):
    OK = 0
    INVALID_INPUT = 2
    CONFIG = 3
    REJECTED = 4
    RELAY_FAILURE = 5
    NETWORK = 6
    PROTOCOL = 7
    STORAGE = 8
    STREAM_BROKEN = 9
    HANGUP = 129  # 128 + SIGHUP
    INTERRUPTED = 130  # 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM


class BridgeError(Exception):
    """Base of every error the bridge reports to a user."""

    exit_code = ExitCode.PROTOCOL
    code = "error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 retryable: bool | None = None, upstream_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.status_code = status_code
        self.upstream_code = upstream_code
        self.retry_after: float | None = None  # seconds the relay asked us to wait
        self.param: str | None = None  # the request parameter the relay complained about
        self.stream_started = False  # bytes of an answer had arrived: never replay (may be billed)
        self.from_page = False  # reduced from an HTML page (bare, or passed on inside a gateway's JSON)
        self.links: list[str] = []  # the relay's links to images it made (and billed) that could not be fetched
        self.task_id: str | None = None  # the relay's task that may still finish the image

    def to_dict(self) -> dict:
        out: dict = {"code": self.code, "message": self.message}
        if self.status_code is not None:
            out["status_code"] = self.status_code
        if self.upstream_code:
            out["upstream_code"] = self.upstream_code
        out["retryable"] = self.retryable
        if self.links:
            out["image_urls"] = list(self.links)
        if self.task_id:
            out["task_id"] = self.task_id
        return out


class InputError(BridgeError):
    """An argument or input file is invalid; nothing was sent."""
    exit_code = ExitCode.INVALID_INPUT
    code = "invalid_input"


class ConfigError(BridgeError):
    """A required setting is missing or a setting has an invalid value."""
    exit_code = ExitCode.CONFIG
    code = "config_missing"


class RelayRejected(BridgeError):
    """The relay refused the request (4xx, moderation, quota)."""
    exit_code = ExitCode.REJECTED
    code = "rejected"


class LimitReached(BridgeError):
    """A shared server's caller may not start another job now (jobs at once, images a day); nothing was sent."""
    exit_code = ExitCode.REJECTED
    code = "caller_limit"


class RelayFailure(BridgeError):
    """The relay or its upstream failed (5xx, HTML pages, error events)."""
    exit_code = ExitCode.RELAY_FAILURE
    code = "relay_error"


class NetworkError(BridgeError):
    """The relay could not be reached or the connection failed."""
    exit_code = ExitCode.NETWORK
    code = "cannot_connect"
    retryable = True


class RequestTimeout(NetworkError):
    """A connect, idle or total deadline passed."""
    code = "timeout"


class ProtocolError(BridgeError):
    """The relay answered, but not with a usable image."""
    exit_code = ExitCode.PROTOCOL
    code = "protocol_error"


class StorageError(BridgeError):
    """The image could not be written to the output directory."""
    exit_code = ExitCode.STORAGE
    code = "storage_error"


class StreamBroken(BridgeError):
    """The stream broke after partial images arrived; the best partial was kept."""
    exit_code = ExitCode.STREAM_BROKEN
    code = "stream_broken"
    retryable = True


class Cancelled(BridgeError):
    """The user or the client stopped the job (Ctrl-C, SIGTERM, SIGHUP or a cancelled tool call)."""
    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"

    def __init__(self, message: str, *, exit_code: ExitCode = ExitCode.INTERRUPTED, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.exit_code = exit_code


# Credential shapes a relay or gateway may quote back, whoever's key it is: OpenAI-style keys
# (sk-..., sk-proj-...), bearer tokens, and long opaque tokens that mix letters and digits
# (hyphenated runs such as file names are words, not tokens).
# Object ids (resp_..., req_..., ig_...) look like the last kind but help troubleshooting.
_CREDENTIALS = re.compile(
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{6,}"
    r"|\b(?:sk|pk|rk)[-_][A-Za-z0-9._*-]{4,}[A-Za-z0-9*]"
    r"|\b(?=[A-Za-z0-9_]*[0-9])(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{32,}\b")
_ID_PREFIXES = ("resp_", "req_", "msg_", "ig_", "rs_", "file_", "call_", "chatcmpl-", "img_")


def _placeholder(match: re.Match) -> str:
    token = match.group(0)
    return token if token.lower().startswith(_ID_PREFIXES) else "[redacted]"


def scrub_credentials(text: str) -> str:
    """Replace anything shaped like a credential with a placeholder, known to the bridge or not."""
    return _CREDENTIALS.sub(_placeholder, text)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret (key, extra header values, relay address) and every credential shape."""
    return scrub_credentials(redact_secrets(text, secrets))


def redact_secrets(text: str, secrets: tuple[str, ...]) -> str:
    """Replace the known secrets only: for a relay's image link, whose signature looks like a token
    but is what lets the user fetch the image (and is not a secret of theirs)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text

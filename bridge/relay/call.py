"""One HTTP call to the relay, as a style built it (``relay/styles``); pure, no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field

BEARER, GOOG_KEY = "bearer", "x-goog-api-key"


@dataclass(frozen=True)
class HttpCall:
    """Everything the transport needs to send one request (the key comes from Settings)."""

    path: str  # under the base, with its query if any: "/models/m:streamGenerateContent?alt=sse"
    stream: bool
    json: dict | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str, bytes, str]] = field(default_factory=list)  # (part, filename, data, mime)
    base: str | None = None  # another API prefix than IMAGE_RELAY_BASE_URL (Gemini's /v1beta); a secret
    key_header: str = BEARER  # how the key travels: "Authorization: Bearer" or x-goog-api-key, never the URL
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()  # request headers of the style's own, never secrets (Prefer, Idempotency-Key)

    @property
    def endpoint(self) -> str:
        return self.path.lstrip("/")

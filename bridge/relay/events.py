"""What a relay's answer says happened, whatever its shape: pure, no I/O.

A style's reader (``relay/styles``) turns each payload of the answer, streamed or whole, into
Signals the receiver acts on; the ``Reader`` here holds what every shape shares: any payload with
an ``error`` is a failure, payloads are counted for the debug summary, progress signals are given
once, and an answer that ends without an image is explained (text instead of an image, or
nothing). Unknown event types are skipped: relays add their own.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import BridgeError, ProtocolError
from .diagnose import error_from_payload

TEXT_SHOWN = 300  # characters of a model's text quoted in an error


@dataclass(frozen=True)
class Signal:
    """Something the core acts on: ``queued``, ``accepted``, ``reasoning``, ``called`` (the image tool was
    called), ``started`` (rendering), ``partial``, ``rendered`` (the image is done, its bytes follow),
    ``final``, ``task`` (the relay answered a task to poll: ``meta["task"]``, a ``tasks.Task``)."""

    kind: str
    index: int = 0
    b64: str | None = None
    url: str | None = None
    meta: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What the answer has told so far, besides the images themselves."""

    response_id: str | None = None
    model: str | None = None
    usage: dict | None = None
    revised_prompt: str | None = None
    text: list[str] = field(default_factory=list)
    finals: int = 0
    partials: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    item_error: BridgeError | None = None
    notes: list[str] = field(default_factory=list)  # warnings for the result (some of several images failed)


Handler = Callable[["Reader", dict], list[Signal]]


class Reader:
    """Feed payloads in arrival order; get Signals back; errors are raised as BridgeErrors.

    A style's reader names its typed events in ``handlers`` (type -> method) and reads payloads
    without a type in ``untyped``; ``closing`` gives the images only the whole answer can tell
    (a link in a chat message's text), and ``failure`` says why an answer without an image failed.
    """

    handlers: dict[str, Handler] = {}

    def __init__(self) -> None:
        self.outcome = Outcome()
        self._accepted = False
        self._started = False
        self._once: set[str] = set()  # signals given at most once per answer

    def feed(self, payload: object, event_name: str = "message") -> list[Signal]:
        if not isinstance(payload, dict):
            return []
        kind = str(payload.get("type") or (event_name if event_name != "message" else ""))
        counts = self.outcome.event_counts
        counts[kind or "untyped"] = counts.get(kind or "untyped", 0) + 1
        if kind in ("error", "upstream_error") or (payload.get("error") and not kind.startswith("response.")):
            raise error_from_payload(payload.get("error") or payload)
        try:
            handler = self.handlers.get(kind)
            return handler(self, payload) if handler is not None else self.untyped(kind, payload)
        except (AttributeError, TypeError, ValueError, KeyError):
            # A string or list where an object belongs: a clean error, never a traceback.
            raise ProtocolError(f"The relay sent a malformed {kind or 'JSON'} payload.",
                                code="unexpected_content") from None

    def untyped(self, kind: str, payload: dict) -> list[Signal]:
        return []

    def closing(self) -> list[Signal]:
        """Signals the answer gives only as a whole, once it has ended."""
        return []

    def finish(self) -> None:
        """Called when the answer has ended: raise if it ended without a final image."""
        if not self.outcome.finals:
            raise self.failure()

    def failure(self) -> BridgeError:
        if self.outcome.item_error is not None:
            return self.outcome.item_error
        text = self.said()
        if text:
            return text_only(text)
        return ProtocolError("The answer ended without an image.", code="no_image")

    def said(self) -> str:
        """The model's words in this answer, on one line."""
        return " ".join(t.strip() for t in self.outcome.text if t.strip())

    # -- shared progress signals -----------------------------------------------------------------

    def _accept(self) -> list[Signal]:
        if self._accepted:
            return []
        self._accepted = True
        return [Signal("accepted")]

    def _start(self) -> list[Signal]:
        signals = self._accept()
        if not self._started:
            self._started = True
            signals.append(Signal("started"))
        return signals

    def _once_only(self, kind: str) -> list[Signal]:
        if kind in self._once:
            return []
        self._once.add(kind)
        return [Signal(kind)]

    def _partial(self, payload: dict) -> list[Signal]:
        """A partial image event (the Responses tool's and the Images API's share their fields)."""
        b64 = text_of(payload.get("partial_image_b64")) or text_of(payload.get("b64_json"))
        url = text_of(payload.get("url"))
        if not (b64 or url):
            return []
        self.outcome.partials += 1
        index = payload.get("partial_image_index", payload.get("image_index", self.outcome.partials - 1))
        return self._start() + [Signal("partial", index=int_of(index, self.outcome.partials - 1), b64=b64, url=url,
                                       meta=meta_of(payload))]

    def _final(self, b64: str | None, url: str | None, meta: dict | None = None, index: int | None = None) -> Signal:
        """A final image; ``url`` may be a link or a data URL, ``b64`` bare base64 (or a payload placeholder)."""
        position = self.outcome.finals if index is None else index
        self.outcome.finals += 1
        return Signal("final", index=position, b64=b64, url=url, meta=meta or {})

    def _found(self, image: str, meta: dict | None = None) -> Signal:
        """A final image found in a message: a link or a data URL, else base64 (or its placeholder)."""
        if image.startswith(("http://", "https://", "data:")):
            return self._final(None, image, meta)
        return self._final(image, None, meta)


def text_only(text: str) -> ProtocolError:
    """The model answered in words: its words (bounded), and how to ask again."""
    shown = text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN - 1] + "…"
    return ProtocolError(f"The relay answered with text instead of an image: \"{shown}\" Ask for the picture outright "
                         "(\"Generate an image of …\"); it was not retried, as each try may be billed.",
                         code="text_only")


def text_of(value: object) -> str | None:
    """A non-empty string, else None: relays send "" for absent fields, fuzzed ones anything."""
    return value if isinstance(value, str) and value else None


def meta_of(source: dict) -> dict:
    return {k: source[k] for k in ("size", "output_format", "quality", "background", "mime_type", "media_type")
            if source.get(k)}


def int_of(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default

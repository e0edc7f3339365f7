"""Interpret relay payloads, streamed or whole, into what happened: pure, no I/O.

Tolerant of what relays really send (upstream-protocol.md §0): the final Responses image is a
non-empty ``result`` in ``response.output_item.done`` whatever its ``status``, with
``response.completed`` as the fallback; Images streams end in ``image_generation.completed`` /
``image_edit.completed`` (or a bare ``data[]`` envelope); any payload with an ``error`` is a
failure; unknown event types are skipped. Item ids are never used to correlate events: some
relays rotate them on every event, only ``output_index`` is stable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BridgeError, ProtocolError, RelayFailure, RelayRejected
from .diagnose import classify, error_from_payload


@dataclass(frozen=True)
class Signal:
    """Something the core acts on: ``queued``, ``accepted``, ``reasoning``, ``called`` (the image tool was
    called), ``started`` (rendering), ``partial``, ``rendered`` (the image is done, its bytes follow),
    ``final``."""

    kind: str
    index: int = 0
    b64: str | None = None
    url: str | None = None
    meta: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What the stream has told so far, besides the images themselves."""

    response_id: str | None = None
    model: str | None = None
    usage: dict | None = None
    revised_prompt: str | None = None
    text: list[str] = field(default_factory=list)
    finals: int = 0
    partials: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    item_error: BridgeError | None = None


class Interpreter:
    """Feed payloads in arrival order; get Signals back; errors are raised as BridgeErrors."""

    def __init__(self) -> None:
        self.outcome = Outcome()
        self._final_indexes: set[int] = set()
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
            return self._dispatch(kind, payload)
        except (AttributeError, TypeError, ValueError, KeyError):
            # A string or list where an object belongs: a clean error, never a traceback.
            raise ProtocolError(f"The relay sent a malformed {kind or 'JSON'} payload.",
                                code="unexpected_content") from None

    def _dispatch(self, kind: str, payload: dict) -> list[Signal]:
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(self, payload)
        if not kind and "output" in payload and ("object" in payload or "status" in payload):
            signals = self._whole_response(payload)
            if payload.get("status") == "incomplete" and not self.outcome.finals:
                return self._incomplete({"response": payload})
            return signals
        if isinstance(payload.get("data"), list):
            return self._images_body(payload)
        return []

    def finish(self) -> None:
        """Called when the stream ends: raise if it ended without a final image."""
        if self.outcome.finals:
            return
        if self.outcome.item_error is not None:
            raise self.outcome.item_error
        text = " ".join(t.strip() for t in self.outcome.text if t.strip())
        if text:
            shown = text if len(text) <= 300 else text[:299] + "…"
            raise ProtocolError(f"The relay answered with text instead of an image: \"{shown}\"", code="text_only")
        raise ProtocolError("The answer ended without an image.", code="no_image")

    # -- Responses API ------------------------------------------------------------------------

    def _response_shell(self, payload: dict) -> list[Signal]:
        response = payload.get("response") or {}
        self.outcome.response_id = response.get("id") or self.outcome.response_id
        self.outcome.model = response.get("model") or self.outcome.model
        return self._accept()

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

    def _queued_shell(self, payload: dict) -> list[Signal]:
        response = payload.get("response") or {}
        self.outcome.response_id = response.get("id") or self.outcome.response_id
        self.outcome.model = response.get("model") or self.outcome.model
        return [] if self._accepted else self._once_only("queued")

    def _item_added(self, payload: dict) -> list[Signal]:
        kind = (payload.get("item") or {}).get("type")
        if kind == "reasoning" and not self._started:
            return self._accept() + self._once_only("reasoning")
        return self._called() if kind == "image_generation_call" else []

    def _called(self, payload: dict | None = None) -> list[Signal]:
        return self._accept() + ([] if self._started else self._once_only("called"))

    def _generating(self, payload: dict) -> list[Signal]:
        return self._start()

    def _rendered(self, payload: dict) -> list[Signal]:
        # Often never sent (R16): the final image in output_item.done is what counts.
        return self._start() + ([] if self._final_indexes else self._once_only("rendered"))

    def _partial(self, payload: dict) -> list[Signal]:
        b64 = _text(payload.get("partial_image_b64")) or _text(payload.get("b64_json"))
        url = _text(payload.get("url"))
        if not (b64 or url):
            return []
        self.outcome.partials += 1
        index = payload.get("partial_image_index", payload.get("image_index", self.outcome.partials - 1))
        return self._start() + [Signal("partial", index=_int(index, self.outcome.partials - 1), b64=b64, url=url,
                                       meta=_meta(payload))]

    def _item_done(self, payload: dict) -> list[Signal]:
        item = payload.get("item") or {}
        if item.get("type") == "message" and not self.outcome.text:
            self._collect_text(item)
        if item.get("type") != "image_generation_call":
            return []
        return self._image_item(item, _int(payload.get("output_index"), 0))

    def _image_item(self, item: dict, index: int) -> list[Signal]:
        result = _text(item.get("result"))
        if not result:
            # A detailed reason always counts; a bare "failed" (e.g. the repeat in response.completed,
            # which may have lost the details) only when nothing better is known.
            if item.get("error"):
                self.outcome.item_error = error_from_payload(item["error"])
            elif item.get("status") == "failed" and self.outcome.item_error is None:
                self.outcome.item_error = error_from_payload({"message": "The image generation failed."})
            return []
        if index in self._final_indexes:
            return []  # the same image, repeated in response.completed
        self._final_indexes.add(index)
        self.outcome.finals += 1
        self.outcome.revised_prompt = item.get("revised_prompt") or item.get("prompt") or self.outcome.revised_prompt
        is_url = result.startswith(("http://", "https://", "data:"))
        return self._start() + [Signal("final", index=index, b64=None if is_url else result,
                                       url=result if is_url else None, meta=_meta(item))]

    def _completed(self, payload: dict) -> list[Signal]:
        # The images here repeat those of output_item.done; positions in this list need not match
        # output_index (relays drop reasoning items), so they are used only when nothing came before.
        return self._whole_response(payload.get("response") or {}, images=not self._final_indexes)

    def _whole_response(self, response: dict, images: bool = True) -> list[Signal]:
        self.outcome.response_id = response.get("id") or self.outcome.response_id
        self.outcome.model = response.get("model") or self.outcome.model
        if response.get("usage") or response.get("tool_usage"):
            usage = dict(response.get("usage") or {})
            if response.get("tool_usage"):
                usage["tool_usage"] = response["tool_usage"]  # the image's own cost lives here
            self.outcome.usage = usage
        signals: list[Signal] = []
        for position, item in enumerate(response.get("output") or []):
            if not isinstance(item, dict):
                continue
            if item.get("type") == "image_generation_call" and images:
                signals += self._image_item(item, position)
            elif item.get("type") == "message" and not self.outcome.text:
                self._collect_text(item)
        return signals

    def _failed(self, payload: dict) -> list[Signal]:
        response = payload.get("response") or {}
        error = response.get("error") or {"code": "server_error", "message": "The response failed."}
        raise error_from_payload(error)

    def _incomplete(self, payload: dict) -> list[Signal]:
        reason = ((payload.get("response") or {}).get("incomplete_details") or {}).get("reason") or "unknown"
        if reason == "content_filter":
            raise RelayRejected("The relay stopped the response with its content filter.", code="moderation_blocked")
        raise RelayFailure(f"The response ended incomplete (reason: {reason}).", code="incomplete")

    def _text_done(self, payload: dict) -> list[Signal]:
        text = payload.get("text") or payload.get("refusal")
        if text:
            self.outcome.text.append(str(text))
        return []

    def _collect_text(self, item: dict) -> None:
        for part in item.get("content") or []:
            if isinstance(part, dict) and (part.get("text") or part.get("refusal")):
                self.outcome.text.append(str(part.get("text") or part.get("refusal")))

    # -- Images API ---------------------------------------------------------------------------

    def _image_completed(self, payload: dict) -> list[Signal]:
        if isinstance(payload.get("data"), list):
            return self._images_body(payload)
        b64, url = _text(payload.get("b64_json")), _text(payload.get("url"))
        if payload.get("usage"):
            self.outcome.usage = payload["usage"]
        if payload.get("revised_prompt"):
            self.outcome.revised_prompt = payload["revised_prompt"]
        if not (b64 or url):
            return []
        index = self.outcome.finals
        self.outcome.finals += 1
        return self._start() + [Signal("final", index=index, b64=b64, url=url, meta=_meta(payload))]

    def _images_body(self, body: dict) -> list[Signal]:
        if body.get("usage"):
            self.outcome.usage = body["usage"]
        signals = self._start()
        for entry in body.get("data") or []:
            if not isinstance(entry, dict):
                continue
            b64, url = _text(entry.get("b64_json")), _text(entry.get("url"))
            if entry.get("revised_prompt"):
                self.outcome.revised_prompt = entry["revised_prompt"]
            if b64 or url:
                index = self.outcome.finals
                self.outcome.finals += 1
                signals.append(Signal("final", index=index, b64=b64, url=url, meta=_meta({**body, **entry})))
        return signals


def _text(value: object) -> str | None:
    """A non-empty string, else None: relays send "" for absent fields, fuzzed ones anything."""
    return value if isinstance(value, str) and value else None


def _meta(source: dict) -> dict:
    return {k: source[k] for k in ("size", "output_format", "quality", "background", "mime_type") if source.get(k)}


def _int(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


_HANDLERS = {
    "response.queued": Interpreter._queued_shell,
    "response.created": Interpreter._response_shell,
    "response.in_progress": Interpreter._response_shell,
    "response.output_item.added": Interpreter._item_added,
    "response.image_generation_call.in_progress": Interpreter._called,
    "response.image_generation_call.generating": Interpreter._generating,
    "response.image_generation_call.partial_image": Interpreter._partial,
    "response.image_generation_call.completed": Interpreter._rendered,
    "response.output_item.done": Interpreter._item_done,
    "response.completed": Interpreter._completed,
    "response.failed": Interpreter._failed,
    "response.incomplete": Interpreter._incomplete,
    "response.output_text.done": Interpreter._text_done,
    "response.refusal.done": Interpreter._text_done,
    "image_generation.partial_image": Interpreter._partial,
    "image_edit.partial_image": Interpreter._partial,
    "image_generation.partial_succeeded": Interpreter._partial,
    "image_edit.partial_succeeded": Interpreter._partial,
    "image_generation.completed": Interpreter._image_completed,
    "image_edit.completed": Interpreter._image_completed,
}

__all__ = ["Interpreter", "Outcome", "Signal", "classify"]

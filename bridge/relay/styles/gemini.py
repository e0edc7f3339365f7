"""Gemini's native API as relays serve it ("Nano Banana"): ``POST {gemini base}/models/{model}:generateContent``.

The Gemini base is the relay's own base with ``/v1`` swapped for ``/v1beta`` (new-api and the
relays built on it serve both there), or IMAGE_RELAY_GEMINI_BASE_URL. The key goes in a header,
``Authorization: Bearer`` or ``x-goog-api-key`` (IMAGE_RELAY_GEMINI_AUTH), never in the URL.
Prompt and input images go in as ``contents[].parts[]``; the ratio and tier as
``generationConfig.imageConfig{aspectRatio, imageSize}`` (uppercase K: ``1k`` silently gives 512 px).
With IMAGE_RELAY_STREAM=true the call is ``:streamGenerateContent?alt=sse``, each event a whole
response chunk. The answer's images are ``candidates[].content.parts[].inlineData`` (some relays
write ``inline_data``); interim images marked ``thought`` are kept as partial images.

A blocked answer is mostly an HTTP 200 without an image: ``finishReason`` IMAGE_SAFETY and its
kin, ``promptFeedback.blockReason``, or no candidates at all with no output tokens. Each is the
``content_policy`` error with the relay's reason, never retried (each try is billed).
"""
from __future__ import annotations

from urllib.parse import quote

from ...config import Settings
from ...errors import BridgeError, ConfigError, ProtocolError, RelayRejected
from ...user_request import Job
from ..call import HttpCall
from ..events import Reader, Signal, text_of
from .base import MASK_NOTE, REPHRASE, Style, b64, b64_bytes, streams, visible_mask

SAFETY = frozenset({"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
                    "RECITATION", "IMAGE_RECITATION"})


def gemini_base(settings: Settings) -> str:
    """Where Gemini's routes are: IMAGE_RELAY_GEMINI_BASE_URL, else the relay's base under /v1beta."""
    if settings.gemini_base_url:
        return settings.gemini_base_url
    base = settings.base_url or ""
    if base.endswith("/v1beta"):
        return base
    if base.endswith("/v1"):
        return base[:-3] + "/v1beta"
    raise ConfigError("Gemini's native API is on the relay's host under /v1beta, but IMAGE_RELAY_BASE_URL does not "
                      "end in /v1: set IMAGE_RELAY_GEMINI_BASE_URL (for example https://relay.example/v1beta) in "
                      f"{settings.config_file}.")


class GeminiStyle(Style):
    name = "gemini"
    title = "Gemini's native API"
    payload_keys = ("data",)  # inlineData.data and inline_data.data
    one_image_per_call = True

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        parts: list[dict] = [{"text": job.prompt}]
        parts += [{"inlineData": {"mimeType": img.info.mime_type, "data": b64(img)}} for img in job.images]
        if job.mask is not None:
            parts[0]["text"] += "\n\n" + MASK_NOTE
            parts.append({"inlineData": {"mimeType": "image/png", "data": b64_bytes(visible_mask(job))}})
        config: dict = {"responseModalities": ["TEXT", "IMAGE"]}
        image_config = {key: value for key, value in (("aspectRatio", job.aspect_ratio), ("imageSize", job.resolution))
                        if value and key not in dropped}
        if image_config and "imageConfig" not in dropped:
            config["imageConfig"] = image_config
        stream = streams(settings)
        model = quote((settings.image_model or "").removeprefix("models/"), safe="-._~")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return HttpCall(path=f"/models/{model}:{action}", stream=stream, base=gemini_base(settings),
                        key_header=settings.gemini_auth,
                        json={"contents": [{"role": "user", "parts": parts}], "generationConfig": config})

    def sent(self, call: HttpCall) -> set[str]:
        config = (call.json or {}).get("generationConfig") or {}
        return set(config) | set(config.get("imageConfig") or {})

    def reader(self) -> Reader:
        return GeminiReader()


class GeminiReader(Reader):
    def __init__(self) -> None:
        super().__init__()
        self.blocked: str | None = None  # the relay's reason, when its safety filter stopped the image
        self.block_code: str | None = None
        self.finish_reasons: list[str] = []
        self.empty = False  # candidates null and no output tokens: refused before any drawing

    def feed(self, payload: object, event_name: str = "message") -> list[Signal]:
        if isinstance(payload, list):  # streamGenerateContent without alt=sse: a JSON array of chunks
            return [signal for item in payload for signal in self.feed(item, event_name)]
        return super().feed(payload, event_name)

    def untyped(self, kind: str, payload: dict) -> list[Signal]:
        signals = self._accept()
        usage = payload.get("usageMetadata") or payload.get("usage_metadata")
        if isinstance(usage, dict):
            self.outcome.usage = usage
        self.outcome.model = text_of(payload.get("modelVersion")) or self.outcome.model
        self.outcome.response_id = text_of(payload.get("responseId")) or self.outcome.response_id
        feedback = payload.get("promptFeedback") or payload.get("prompt_feedback") or {}
        if feedback.get("blockReason") or feedback.get("block_reason"):
            reason = feedback.get("blockReason") or feedback.get("block_reason")
            self.blocked, self.block_code = f"the prompt was blocked: {reason}", str(reason)
        candidates = payload.get("candidates")
        if not candidates and isinstance(usage, dict) and not usage.get("candidatesTokenCount"):
            self.empty = True
        for candidate in candidates or []:
            if isinstance(candidate, dict):
                signals += self._candidate(candidate)
        return signals

    def _candidate(self, candidate: dict) -> list[Signal]:
        signals: list[Signal] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if not isinstance(part, dict):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            linked = part.get("fileData") or part.get("file_data")
            if isinstance(inline, dict) and text_of(inline.get("data")):
                meta = {"mime_type": inline.get("mimeType") or inline.get("mime_type")}
                if part.get("thought"):  # an interim image the model drew while thinking
                    self.outcome.partials += 1
                    signals += self._start() + [Signal("partial", index=self.outcome.partials - 1,
                                                       b64=inline["data"], meta=meta)]
                else:
                    signals += self._start() + [self._final(inline["data"], None, meta)]
            elif isinstance(linked, dict) and str(linked.get("fileUri") or linked.get("file_uri") or "").startswith(
                    ("http://", "https://")):
                signals += self._start() + [self._final(None, linked.get("fileUri") or linked.get("file_uri"))]
            elif text_of(part.get("text")):
                if part.get("thought"):
                    signals += self._once_only("reasoning")
                else:
                    self.outcome.text.append(part["text"])
        reason = text_of(candidate.get("finishReason")) or text_of(candidate.get("finish_reason"))
        if reason:
            self.finish_reasons.append(reason)
            if reason.upper() in SAFETY:
                message = text_of(candidate.get("finishMessage"))
                self.blocked = f"finishReason {reason}" + (f": {message[:200]}" if message else "")
                self.block_code = reason
        return signals

    def failure(self) -> BridgeError:
        if self.blocked:
            return RelayRejected(f"The model's safety filter stopped the image ({self.blocked}). {REPHRASE}",
                                 code="content_policy", upstream_code=self.block_code)
        if self.empty and not self.said():
            return RelayRejected(f"The relay refused the request before drawing (no candidates, no output tokens), as "
                                 f"its moderation does. {REPHRASE}", code="content_policy")
        odd = [r for r in self.finish_reasons if r.upper() not in ("STOP", "FINISH_REASON_UNSPECIFIED")]
        if odd and not self.said():
            return ProtocolError(f"The model finished without an image (finishReason {odd[-1]}).", code="no_image")
        return super().failure()


STYLE = GeminiStyle()

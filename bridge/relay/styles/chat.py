"""Chat Completions with image output: ``POST /chat/completions``, as relays sell image models there.

The request: the prompt, and input images as ``image_url`` content parts (a mask as one more
image, said to be one); ``modalities: ["image", "text"]`` (OpenRouter, LiteLLM); and the ratio and
tier twice, because relays read them in different places and the bridge cannot ask which one it
talks to: top-level ``image_config{aspect_ratio, image_size}`` (OpenRouter) and the literal key
``extra_body.google.image_config`` (new-api, snake_case only). A gateway that forwards a literal
``extra_body`` into Google's request (LiteLLM 1.108.7) gets a 400 for the unknown field
``google``; that 400 bills nothing, so the call is made once more without it, and the relay's
answer is remembered like any refused parameter.

The answer: the five shapes of ``docs/relay-styles.md``, streamed (``delta``) or whole
(``message``): ``images[]``, image content parts, a Markdown ``data:`` image, a link after
progress text, a bare ``data:`` URL. ``finish_reason: content_filter`` without an image is the
``content_policy`` error.
"""
from __future__ import annotations

import re

from ...config import Settings
from ...errors import BridgeError, RelayRejected
from ...user_request import Job
from ..call import HttpCall
from ..events import Reader, Signal, text_of
from .base import MASK_NOTE, REPHRASE, Style, b64_bytes, data_url, streams, visible_mask
from .text_images import images_in_parts, images_in_text, text_of_parts, without_images

TEXT_KEPT = 1 << 20  # characters of message text kept (its images are placeholders by then)
_REFUSED = (("extra_body", re.compile(r"\bgoogle\b|extra_body", re.I)),
            ("image_config", re.compile(r"image_config|imageConfig", re.I)),
            ("modalities", re.compile(r"\bmodalities\b", re.I)))


class ChatStyle(Style):
    name = "chat"
    title = "Chat Completions"
    payload_keys = ("b64_json", "base64")
    link_keys = ("url", "image_url")
    text_images = True
    one_image_per_call = True

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        content: object = job.prompt
        if job.images:
            prompt = job.prompt + ("\n\n" + MASK_NOTE if job.mask is not None else "")
            parts = [{"type": "text", "text": prompt}]
            parts += [{"type": "image_url", "image_url": {"url": data_url(img)}} for img in job.images]
            if job.mask is not None:
                parts.append({"type": "image_url",
                              "image_url": {"url": "data:image/png;base64," + b64_bytes(visible_mask(job))}})
            content = parts
        stream = streams(settings)
        body: dict = {"model": settings.image_model, "messages": [{"role": "user", "content": content}],
                      "stream": stream, "modalities": ["image", "text"]}
        config = {key: value for key, value in (("aspect_ratio", job.aspect_ratio), ("image_size", job.resolution))
                  if value}
        if config:
            body["image_config"] = config
            body["extra_body"] = {"google": {"image_config": dict(config)}}
        return HttpCall(path="/chat/completions", stream=stream, json={k: v for k, v in body.items() if k not in dropped})

    def refused_field(self, error: BridgeError, call: HttpCall) -> str | None:
        if error.status_code != 400 or error.stream_started:
            return None
        sent = set(call.json or {})
        return next((name for name, said in _REFUSED if name in sent and said.search(error.message)), None)

    def reader(self) -> Reader:
        return ChatReader()


class ChatReader(Reader):
    def __init__(self) -> None:
        super().__init__()
        self._content: list[str] = []  # the message text, streamed in pieces or whole
        self._kept = 0
        self.filtered = False

    def untyped(self, kind: str, payload: dict) -> list[Signal]:
        choices = payload.get("choices")
        if not isinstance(choices, list):
            return []
        signals = self._accept()
        self.outcome.model = text_of(payload.get("model")) or self.outcome.model
        self.outcome.response_id = text_of(payload.get("id")) or self.outcome.response_id
        if isinstance(payload.get("usage"), dict):
            self.outcome.usage = payload["usage"]
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") or choice.get("delta") or {}
            if isinstance(message, dict):
                signals += self._message(message)
            if choice.get("finish_reason") == "content_filter":
                self.filtered = True
        return signals

    def _message(self, message: dict) -> list[Signal]:
        images = [item for item in message.get("images") or [] if isinstance(item, dict)]
        found = images_in_parts(images)
        content = message.get("content")
        if isinstance(content, list):
            found += images_in_parts(content)
            self._keep(text_of_parts(content))
        elif isinstance(content, str):
            self._keep(content)
        if text_of(message.get("refusal")):
            self._keep(message["refusal"])
        if not found:
            return []
        return self._start() + [self._found(image) for image in found]

    def _keep(self, text: str) -> None:
        if text and self._kept < TEXT_KEPT:
            self._content.append(text[:TEXT_KEPT - self._kept])
            self._kept += len(self._content[-1])

    def closing(self) -> list[Signal]:
        """The image in the message text: a Markdown or bare data URL, else a link (read once the
        text is whole, since a streamed Markdown image may span several chunks)."""
        if self.outcome.finals:
            return []
        text = "".join(self._content)
        signals = [self._found(image) for image in images_in_text(text)[0]]
        self.outcome.text = [without_images(text)] if text.strip() else []
        return self._start() + signals if signals else []

    def failure(self) -> BridgeError:
        if self.filtered:
            said = self.said()
            shown = f' The model said: "{said[:200]}".' if said else ""
            return RelayRejected(f"The relay's content filter stopped the image (finish_reason content_filter).{shown} "
                                 f"{REPHRASE}", code="content_policy", upstream_code="content_filter")
        return super().failure()


STYLE = ChatStyle()

"""``POST /v1/chat/completions`` with image output, in each shape relays answer with.

``shape=`` picks the answer: ``images`` (``message.images[]``, OpenRouter and LiteLLM; the default),
``parts`` (image content parts), ``markdown`` (``![image](data:…)`` in the content, new-api's
Gemini channel, streamed as one delta larger than 128 KB), ``link`` (progress text and a download
link to the emulator's file URL, "reverse" models), ``bare`` (the content is the data URL).
``split=N`` spreads a streamed Markdown image over N deltas. ``reads=`` picks where the ratio and
tier are read: ``openrouter`` (top-level ``image_config``, and no image without ``modalities``),
``newapi`` (the literal ``extra_body.google.image_config``, snake_case only), or ``both`` (the
default). Faults: ``content-filter`` (finish_reason content_filter, no image), ``text-only``,
``extra-body-400`` (what LiteLLM 1.108.7 answers to a literal ``extra_body``: it copies its keys
into Google's request, and Google refuses the unknown field ``google``; nothing is drawn).
"""
from __future__ import annotations

import time
import uuid

from ..images.sniff import read_info
from ..relay import aspect
from ..relay.models import ratio_rule
from .jobs import ApiError, Job, bad_request, decode_data_url
from .pictures import Pictures
from .wire import Event

TEXT_REPLY = "I can't draw that, but here is a description of the scene instead."
LITELLM_GOOGLE_400 = ('litellm.BadRequestError: GeminiException BadRequestError - {"error": {"code": 400, "message": '
                      '"Invalid JSON payload received. Unknown name \\"google\\": Cannot find field.", "status": '
                      '"INVALID_ARGUMENT"}}\n\nLiteLLM: model group \'gemini-3-pro-image\' failed with the error above. '
                      'No fallback was attempted.')


def chat_job(data, reads: str, fault: str | None = None) -> Job:
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    if fault == "extra-body-400" and isinstance(data.get("extra_body"), dict):
        raise ApiError(400, {"error": {"message": LITELLM_GOOGLE_400, "type": "invalid_request_error", "param": None,
                                       "code": "400"}})
    if not data.get("model"):
        raise bad_request("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    texts, images = [], []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else \
                    part.get("image_url")
                images.append(decode_data_url(url, "messages") if str(url or "").startswith("data:") else b"")
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    model = str(data["model"])
    ratio, tier = _image_config(data, reads)
    job = Job(kind="chat", prompt=" ".join(texts).strip(), width=1024, height=1024, model=model, sources=len(images),
              stream=data.get("stream") is True)
    rule = ratio_rule(model)
    if rule is not None:
        info = read_info(images[0]) if images and images[0] else None
        near = aspect.nearest_ratio(info.width, info.height, rule.ratios) if info else "1:1"  # edits keep the shape
        ratio = ratio if ratio in rule.ratios else near
        job.width, job.height = rule.dims(ratio, tier if rule.sends_tier else None) or aspect.area_size(ratio, tier or "1K")
    elif ratio or tier:
        job.width, job.height = aspect.long_side_size(ratio or "1:1", tier or "1K")
    job.params = set(data)
    modalities = [str(m).lower() for m in data.get("modalities") or []]
    job.has_tool = "image" in modalities or reads != "openrouter"  # OpenRouter draws only when asked to
    return job


def _image_config(data: dict, reads: str) -> tuple[str | None, str | None]:
    top = data.get("image_config") if isinstance(data.get("image_config"), dict) else {}
    extra = data.get("extra_body") if isinstance(data.get("extra_body"), dict) else {}
    nested = ((extra.get("google") or {}) if isinstance(extra.get("google"), dict) else {}).get("image_config") or {}
    if reads != "openrouter" and isinstance(nested, dict) and {"aspectRatio", "imageSize"} & set(nested):
        raise bad_request("extra_body.google.image_config takes snake_case keys: aspect_ratio, image_size.",
                          "extra_body", "invalid_request")
    config = {"openrouter": top, "newapi": nested}.get(reads) or top or nested
    if not isinstance(config, dict):
        return None, None
    return config.get("aspect_ratio"), (str(config["image_size"]).upper() if config.get("image_size") else None)


class ChatBuilder:
    def __init__(self, job: Job, pictures: Pictures, opts, publish) -> None:
        self.job, self.pictures, self.fault = job, pictures, opts.fault
        self.shape = opts.shape or "images"
        self.split = max(1, opts.split or 1)
        self.publish = publish
        self.id = "chatcmpl-" + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def _message(self) -> tuple[dict, str]:
        """The assistant message and its finish_reason."""
        if self.fault == "content-filter":
            return {"role": "assistant", "content": ""}, "content_filter"
        if self.fault == "text-only" or not self.job.has_tool:
            return {"role": "assistant", "content": TEXT_REPLY}, "stop"
        data_url = "data:image/png;base64," + self.pictures.final_b64()
        words = "Here is the image you asked for."
        if self.shape == "parts":
            return {"role": "assistant", "content": [{"type": "text", "text": words},
                                                     {"type": "image_url", "image_url": {"url": data_url}}]}, "stop"
        if self.shape == "markdown":
            return {"role": "assistant", "content": f"{words}\n![image]({data_url})"}, "stop"
        if self.shape == "link":
            link = self.publish(self.pictures.final_bytes())
            return {"role": "assistant", "content": f"\n\n> 🎨 生成中...\n\n\n\n[点击下载]({link})"}, "stop"
        if self.shape == "bare":
            return {"role": "assistant", "content": data_url}, "stop"
        return {"role": "assistant", "content": words,
                "images": [{"type": "image_url", "image_url": {"url": data_url}, "index": 0}]}, "stop"

    def _usage(self) -> dict:
        prompt = max(1, len(self.job.prompt.split()) * 4 // 3) + 258 * self.job.sources
        return {"prompt_tokens": prompt, "completion_tokens": 1290, "total_tokens": prompt + 1290}

    def body(self) -> dict:
        message, reason = self._message()
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.job.model,
                "choices": [{"index": 0, "message": message, "finish_reason": reason}], "usage": self._usage()}

    def _chunk(self, delta: dict, reason: str | None = None, **extra) -> Event:
        payload = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.job.model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": reason}], **extra}
        return Event("", payload, final=True)

    def stream(self) -> list:
        message, reason = self._message()
        items = [self._chunk({"role": "assistant", "content": ""})]
        content = message.get("content")
        if isinstance(content, str) and content:
            step = -(-len(content) // self.split) if self.shape == "markdown" else len(content)
            items += [self._chunk({"content": content[i:i + step]}) for i in range(0, len(content), step)]
        elif isinstance(content, list):
            items += [self._chunk({"content": [part]}) for part in content]
        if message.get("images"):
            items.append(self._chunk({"images": message["images"]}))
        items.append(self._chunk({}, reason, usage=self._usage()))
        return items


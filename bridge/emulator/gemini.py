"""``POST /v1beta/models/{model}:generateContent`` (and ``:streamGenerateContent``): Gemini's native API.

As Google serves it: unknown top-level fields are a 400 (so a gateway that forwards a literal
``extra_body`` is caught), field names in either casing, ``imageSize`` tiers in uppercase (a
lowercase ``1k`` silently draws 512 px), an aspect ratio the model lacks is a 400. Shapes:
``shape=camel`` (``inlineData``, the default) or ``shape=snake`` (``inline_data``, as some relays
write it); ``thought=1`` adds an interim image marked ``thought``. Faults: ``image-safety``
(finishReason IMAGE_SAFETY), ``prompt-blocked`` (promptFeedback.blockReason), ``no-candidates``
(candidates null, no output tokens), ``text-only`` (words, finishReason STOP).
"""
from __future__ import annotations

import base64

from ..relay import aspect
from ..relay.models import ratio_rule
from ..images.sniff import read_info
from .jobs import ApiError, Job
from .pictures import Pictures
from .wire import Event

FIELDS = {"contents", "generationConfig", "generation_config", "safetySettings", "safety_settings",
          "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config", "cachedContent",
          "cached_content", "labels"}
TEXT_REPLY = "I can describe that scene in words, but I did not draw it."


def google_error(status: int, message: str, state: str = "INVALID_ARGUMENT") -> ApiError:
    return ApiError(status, {"error": {"code": status, "message": message, "status": state}})


def gemini_job(data, model: str) -> Job:
    if not isinstance(data, dict):
        raise google_error(400, "Invalid JSON payload received. Expected an object.")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise google_error(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
    texts, images = [], []
    contents = [c for c in data.get("contents") or [] if isinstance(c, dict)]
    for part in [p for c in contents for p in c.get("parts") or [] if isinstance(p, dict)]:
        inline = part.get("inlineData") or part.get("inline_data")
        if isinstance(inline, dict):
            images.append(base64.b64decode(inline.get("data") or ""))
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    if not texts and not images:
        raise google_error(400, "* GenerateContentRequest.contents: contents is not specified")
    config = data.get("generationConfig") or data.get("generation_config") or {}
    image_config = config.get("imageConfig") or config.get("image_config") or {}
    modalities = config.get("responseModalities") or config.get("response_modalities") or ["TEXT"]
    rule = ratio_rule(model)
    if rule is None:
        raise google_error(400, f"Model {model} does not generate images.")
    ratio = image_config.get("aspectRatio") or image_config.get("aspect_ratio")
    tier = image_config.get("imageSize") or image_config.get("image_size")
    if ratio is not None and ratio not in rule.ratios:
        raise google_error(400, f"Unsupported aspect ratio: {ratio}.")
    if tier is not None and (not rule.sends_tier or tier.upper() not in rule.tiers):
        raise google_error(400, f"Unsupported image size: {tier}.")
    if tier is not None and tier != tier.upper():
        tier = "512"  # Google's trap: "1k" is not "1K", and silently draws half the side
    info = read_info(images[0]) if images else None
    ratio = ratio or (aspect.nearest_ratio(info.width, info.height, rule.ratios) if info else "1:1")
    width, height = rule.dims(ratio, tier) or aspect.area_size(ratio, tier or "1K")
    job = Job(kind="gemini", prompt=" ".join(texts).strip(), width=width, height=height, model=model,
              sources=len(images))
    job.params = set(config) | set(image_config)
    job.has_tool = "IMAGE" in [str(m).upper() for m in modalities]
    return job


class GeminiBuilder:
    def __init__(self, job: Job, pictures: Pictures, opts, publish) -> None:
        self.job, self.pictures, self.fault = job, pictures, opts.fault
        self.snake = opts.shape == "snake"
        self.thought = opts.thought

    def _inline(self, data: str, thought: bool = False) -> dict:
        key, mime = ("inline_data", "mime_type") if self.snake else ("inlineData", "mimeType")
        part = {key: {mime: "image/png", "data": data}}
        return {**part, "thought": True} if thought else part

    def _usage(self, drawn: bool = True) -> dict:
        prompt = max(1, len(self.job.prompt.split()) * 4 // 3) + 258 * self.job.sources
        out = 1290 if drawn else 0
        details = [{"modality": "IMAGE", "tokenCount": out}] if drawn else []
        return {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out,
                "candidatesTokensDetails": details}

    def chunks(self) -> list[dict]:
        """The answer as Gemini streams it: each a whole GenerateContentResponse."""
        fault, model = self.fault, self.job.model
        if fault == "prompt-blocked":
            return [{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": self._usage(False),
                     "modelVersion": model}]
        if fault == "no-candidates":
            return [{"candidates": None, "usageMetadata": self._usage(False), "modelVersion": model}]
        if fault == "image-safety":
            return [{"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY",
                                     "finishMessage": "Unable to show the generated image: it may violate the "
                                                      "image safety policy.", "index": 0}],
                     "usageMetadata": self._usage(False), "modelVersion": model}]
        if fault == "text-only" or not self.job.has_tool:
            return [{"candidates": [{"content": {"role": "model", "parts": [{"text": TEXT_REPLY}]},
                                     "finishReason": "STOP", "index": 0}],
                     "usageMetadata": self._usage(False), "modelVersion": model}]
        out = [{"candidates": [{"content": {"role": "model", "parts": [{"text": "Here is the image you asked for."}]},
                                "index": 0}], "modelVersion": model}]
        if self.thought:
            out.append({"candidates": [{"content": {"role": "model", "parts": [
                self._inline(self.pictures.partial_b64(0, 1), thought=True)]}, "index": 0}], "modelVersion": model})
        out.append({"candidates": [{"content": {"role": "model", "parts": [self._inline(self.pictures.final_b64())]},
                                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": self._usage(), "modelVersion": model, "responseId": "emu-gemini-1"})
        return out

    def body(self) -> dict:
        """The whole answer: the chunks' parts in one candidate."""
        chunks = self.chunks()
        last = dict(chunks[-1])
        if len(chunks) > 1:
            parts = [p for c in chunks for cand in c.get("candidates") or [] for p in cand["content"]["parts"]]
            last["candidates"] = [{**last["candidates"][0], "content": {"role": "model", "parts": parts}}]
        return last

    def stream(self) -> list:
        return [Event("", chunk, final=True) for chunk in self.chunks()]


def unknown_model(model: str) -> ApiError:
    return google_error(404, f"models/{model} is not found for API version v1beta.", "NOT_FOUND")

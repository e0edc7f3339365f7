"""The Responses API with the ``image_generation`` tool: ``POST /responses``, streamed.

Read tolerantly (upstream-protocol.md §0): the final image is a non-empty ``result`` in
``response.output_item.done`` whatever its ``status``, with ``response.completed`` as the fallback;
item ids are never used to correlate events (some relays rotate them on every event, only
``output_index`` is stable). A relay that answers with an image model that is not OpenAI's
(new-api on a Gemini channel) sends no ``image_generation_call`` at all but a Markdown image in
the ``output_text``: that is read as the image, through the chat extractor's finder.
"""
from __future__ import annotations

from ...config import Settings
from ...errors import RelayFailure, RelayRejected
from ...user_request import Job
from ..call import HttpCall
from ..diagnose import error_from_payload
from ..events import Reader, Signal, int_of, meta_of, text_of
from .base import Style, data_url, image_options, without
from .text_images import images_in_text, without_images


class ResponsesStyle(Style):
    name = "responses"
    title = "the Responses API"
    needs = ("text_model",)
    payload_keys = ("result", "partial_image_b64")
    link_keys = ("url",)
    partial_images = True
    text_images = True  # the Markdown image of a converted Gemini answer (style G)
    keeps_turns = True
    one_image_per_call = True

    def model(self, settings: Settings) -> str | None:
        return settings.text_model

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        tool: dict = {"type": "image_generation"}
        if settings.image_model:
            tool["model"] = settings.image_model
        # Said outright, so the text model cannot redraw from scratch when an edit was asked for, or the reverse.
        tool["action"] = "edit" if job.is_edit else "generate"
        tool.update(image_options(job, settings))
        stream = settings.stream != "false"
        if stream:
            tool["partial_images"] = job.partial_images
        if job.mask is not None:
            tool["input_image_mask"] = {"image_url": data_url(job.mask)}
        tool = without(tool, dropped)
        body: dict = {"model": settings.text_model}
        uploads = job.images
        if job.previous_response_id and "previous_response_id" not in dropped:
            # The relay holds the earlier turn and its image: continue from it, upload only what is new.
            body["previous_response_id"] = job.previous_response_id
            uploads = job.images[1:]
        if uploads:
            content = [{"type": "input_text", "text": job.prompt}]
            content += [{"type": "input_image", "image_url": data_url(img), "detail": "auto"} for img in uploads]
            user_input: object = [{"role": "user", "content": content}]
        else:
            user_input = job.prompt
        body.update({"stream": stream, "input": user_input, "tools": [tool], "tool_choice": {"type": "image_generation"}})
        return HttpCall(path="/responses", stream=stream, json=body)

    def sent(self, call: HttpCall) -> set[str]:
        tools = (call.json or {}).get("tools") or [{}]
        return set(call.json or {}) | set(tools[0])

    def reader(self) -> Reader:
        return ResponsesReader()


class ResponsesReader(Reader):
    def __init__(self) -> None:
        super().__init__()
        self._final_indexes: set[int] = set()

    def untyped(self, kind: str, payload: dict) -> list[Signal]:
        if not kind and "output" in payload and ("object" in payload or "status" in payload):
            signals = self._whole_response(payload)
            if payload.get("status") == "incomplete" and not self.outcome.finals:
                return self._incomplete({"response": payload})
            return signals
        return []

    def closing(self) -> list[Signal]:
        """No image_generation_call came: the image may be a Markdown image in the text (style G)."""
        if self.outcome.finals or self.outcome.item_error is not None:
            return []
        signals = [self._found(image) for image in images_in_text("\n".join(self.outcome.text))[0]]
        return self._start() + signals if signals else []

    def said(self) -> str:
        return without_images(super().said())

    def _shell(self, payload: dict) -> list[Signal]:
        response = payload.get("response") or {}
        self.outcome.response_id = response.get("id") or self.outcome.response_id
        self.outcome.model = response.get("model") or self.outcome.model
        return self._accept()

    def _queued(self, payload: dict) -> list[Signal]:
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

    def _item_done(self, payload: dict) -> list[Signal]:
        item = payload.get("item") or {}
        if item.get("type") == "message" and not self.outcome.text:
            self._collect_text(item)
        if item.get("type") != "image_generation_call":
            return []
        return self._image_item(item, int_of(payload.get("output_index"), 0))

    def _image_item(self, item: dict, index: int) -> list[Signal]:
        result = text_of(item.get("result"))
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
        self.outcome.revised_prompt = item.get("revised_prompt") or item.get("prompt") or self.outcome.revised_prompt
        is_url = result.startswith(("http://", "https://", "data:"))
        return self._start() + [self._final(None if is_url else result, result if is_url else None, meta_of(item),
                                            index=index)]

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

    handlers = {
        "response.queued": _queued,
        "response.created": _shell,
        "response.in_progress": _shell,
        "response.output_item.added": _item_added,
        "response.image_generation_call.in_progress": _called,
        "response.image_generation_call.generating": _generating,
        "response.image_generation_call.partial_image": Reader._partial,
        "response.image_generation_call.completed": _rendered,
        "response.output_item.done": _item_done,
        "response.completed": _completed,
        "response.failed": _failed,
        "response.incomplete": _incomplete,
        "response.output_text.done": _text_done,
        "response.refusal.done": _text_done,
    }


STYLE = ResponsesStyle()

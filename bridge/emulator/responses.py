"""``POST /v1/responses`` with the ``image_generation`` tool: the stream and the whole body."""
from __future__ import annotations

import json
import time
import uuid

from .jobs import Job
from .pictures import Pictures, image_usage, text_usage
from .wire import ABORT, STALL, Event, Raw

TEXT_REPLY = "I can't create that image, but here is a description instead."
_FAILURES = {
    "response-failed": {"code": "server_error", "message": "The server had an error processing your request."},
    "response-failed-moderation": {
        "code": "image_content_policy_violation",
        "message": "Your request was rejected by the safety system because the image violates the content policy.",
    },
}


class ResponseBuilder:
    def __init__(self, job: Job, pictures: Pictures, fault: str | None, *, markdown: bool = False):
        self.job = job
        self.pictures = pictures
        # shape=markdown: a relay converting a Gemini answer (new-api): no image_generation_call, the
        # image a Markdown data URL at the end of the output_text (relay-styles.md, style G).
        self.markdown = markdown
        # Without an image tool the model can only answer in words (R17).
        self.fault = fault if job.has_tool else "text-only"
        self.id = "resp_" + uuid.uuid4().hex
        self.item_id = "ig_" + uuid.uuid4().hex
        self.msg_id = "msg_" + uuid.uuid4().hex
        self.created = int(time.time())
        self.items: list = []
        self.sequence = 0

    # -- shapes -------------------------------------------------------------------------------

    def shell(self, status: str = "in_progress") -> dict:
        return {
            "id": self.id, "object": "response", "created_at": self.created, "status": status,
            "model": self.job.text_model, "output": [], "tools": self._tools(), "tool_choice": self.job.tool_choice,
            "parallel_tool_calls": True, "error": None, "incomplete_details": None, "usage": None,
        }

    def _tools(self) -> list:
        tools = []
        for tool in self.job.tools:
            if isinstance(tool, dict) and tool.get("type") == "image_generation":
                tool = {**tool, "model": self.job.model, **self.job.echo(),
                        "partial_images": self.job.partial_images}
            tools.append(tool)
        return tools

    def image_item(self, status: str = "completed") -> dict:
        return {
            "id": self.item_id, "type": "image_generation_call", "status": status, "action": self.job.action,
            **self.job.echo(), "revised_prompt": self.job.prompt, "result": self.pictures.final_b64(),
        }

    def failed_item(self) -> dict:
        return {
            "id": self.item_id, "type": "image_generation_call", "status": "failed", "result": None,
            "error": {"type": "image_generation_user_error", "code": "moderation_blocked",
                      "message": "Your request was rejected by the safety system. safety_violations=[violence]."},
        }

    def reply(self) -> str:
        if self.markdown:
            return "Here is the image.\n![image](data:image/png;base64," + self.pictures.final_b64() + ")"
        return TEXT_REPLY

    def message_item(self, status: str = "completed") -> dict:
        content = [{"type": "output_text", "text": self.reply(), "annotations": []}] if status == "completed" else []
        return {"id": self.msg_id, "type": "message", "role": "assistant", "status": status, "content": content}

    def body(self) -> dict:
        return self.final_response()

    def final_response(self) -> dict:
        """The whole Response: the non-stream body and the payload of the closing event."""
        fault = "text-only" if self.markdown and not self.fault else self.fault
        body = self.shell("completed")
        if fault in _FAILURES:
            body.update(status="failed", error=_FAILURES[fault])
            return body
        if fault == "response-incomplete":
            body.update(status="incomplete", incomplete_details={"reason": "content_filter"})
            return body
        if fault == "text-only":
            body["output"] = [self.message_item()]
        elif fault == "item-failed":
            body["output"] = [self.failed_item()]
        elif fault != "no-final":
            body["output"] = [self.image_item("generating" if fault == "status-generating" else "completed")]
        body["usage"] = text_usage(self.job)
        body["tool_usage"] = {"image_gen": image_usage(self.job), "web_search": {"num_requests": 0}}
        return body

    # -- stream -------------------------------------------------------------------------------

    def add(self, name: str, final: bool = False, **fields) -> None:
        payload = {"type": name, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        self.items.append(Event(name, payload, final))

    def stream(self) -> list:
        fault = self.fault
        self.add("response.created", response=self.shell())
        self.add("response.in_progress", response=self.shell())
        if fault == "error-event-flat":
            self.add("error", code="server_error", message="The server had an error processing your request.",
                     param=None)
            return self.items
        if fault == "error-event-nested":
            self.add("error", error={"type": "insufficient_quota", "code": "credit_balance_exhausted",
                                     "message": "You have no credits remaining.", "param": None})
            return self.items
        if fault == "text-only" or (self.markdown and not fault):
            return self._text_stream()
        where = {"output_index": 0, "item_id": self.item_id}
        self.add("response.output_item.added", output_index=0,
                 item={"id": self.item_id, "type": "image_generation_call", "status": "in_progress", "result": None})
        self.add("response.image_generation_call.in_progress", **where)
        self.add("response.image_generation_call.generating", **where)
        if fault == "stall":
            self.items.append(STALL)
        count = self.job.partial_images
        if fault in ("cut-after-partial", "cut-mid-final"):
            count = max(1, count)
        for k in range(count):
            self.add("response.image_generation_call.partial_image", **where, partial_image_index=k,
                     partial_image_b64=self.pictures.partial_b64(k, count), **self.job.echo())
        if fault == "cut-after-partial":
            self.items.append(ABORT)
            return self.items
        if fault == "error-data-only":
            error = {"message": "Upstream request failed", "type": "upstream_error", "code": "upstream_error"}
            self.items.append(Raw("data: " + json.dumps({"error": error}, separators=(",", ":")) + "\n\n"))
            return self.items
        if fault in _FAILURES:
            self.add("response.failed", response=self.final_response())
            return self.items
        if fault == "response-incomplete":
            self.add("response.incomplete", response=self.final_response())
            return self.items
        if fault == "cut-mid-final":
            # The connection drops halfway through the final image's base64.
            payload = {"type": "response.output_item.done", "sequence_number": self.sequence, "output_index": 0,
                       "item": self.image_item()}
            text = f"event: response.output_item.done\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"
            self.items += [Raw(text[: len(text) // 2]), ABORT]
            return self.items
        if fault == "item-failed":
            self.add("response.output_item.done", output_index=0, item=self.failed_item())
        elif fault != "no-final":
            if fault != "status-generating":
                self.add("response.image_generation_call.completed", **where)
            if fault != "final-in-completed-only":
                status = "generating" if fault == "status-generating" else "completed"
                self.add("response.output_item.done", final=True, output_index=0, item=self.image_item(status))
        if fault == "stall-after-final":  # the image is out, the answer stays open (a relay that lingers)
            self.items.append(STALL)
        self.add("response.completed", final=fault == "final-in-completed-only", response=self.final_response())
        return self.items

    def _text_stream(self) -> list:
        where = {"item_id": self.msg_id, "output_index": 0, "content_index": 0}
        self.add("response.output_item.added", output_index=0, item=self.message_item("in_progress"))
        self.add("response.content_part.added", item_id=self.msg_id, output_index=0, content_index=0,
                 part={"type": "output_text", "text": "", "annotations": []})
        reply = self.reply()
        words = reply.split(" ")
        for i, word in enumerate(words):
            self.add("response.output_text.delta", **where, delta=word if i == 0 else " " + word, logprobs=[])
        self.add("response.output_text.done", **where, text=reply, logprobs=[])
        self.add("response.content_part.done", **where,
                 part={"type": "output_text", "text": reply, "annotations": []})
        self.add("response.output_item.done", output_index=0, item=self.message_item())
        self.add("response.completed", response=self.final_response())
        return self.items

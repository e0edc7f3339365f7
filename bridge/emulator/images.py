"""``/v1/images/generations`` and ``/v1/images/edits`` answers: the JSON body and the stream."""
from __future__ import annotations

import json
import time
from typing import Callable

from .jobs import Job
from .pictures import Pictures, image_usage
from .wire import ABORT, STALL, Event, Raw

ERROR_FLAT = {"type": "error", "sequence_number": 0, "code": "server_error",
              "message": "The server had an error processing your request.", "param": None}
ERROR_NESTED = {"type": "error", "sequence_number": 0,
                "error": {"type": "insufficient_quota", "code": "credit_balance_exhausted",
                          "message": "You have no credits remaining.", "param": None}}
UPSTREAM_ERROR = {"message": "Upstream request failed", "type": "upstream_error", "code": "upstream_error"}


class ImagesBuilder:
    def __init__(self, job: Job, pictures: Pictures, fault: str | None, publish: Callable[[bytes], str]):
        self.job = job
        self.pictures = pictures
        self.fault = fault
        self.publish = publish  # stores bytes behind a relay file URL and returns that URL
        self.prefix = "image_edit" if job.kind == "edits" else "image_generation"
        self.count = 1 if fault == "n-downgrade" else job.n  # silent n>1 downgrade (R14)
        self.created = int(time.time())

    def result(self, index: int) -> dict:
        if self.fault == "file-link":
            return {"url": "file:///etc/passwd"}
        if self.fault == "url-result":
            return {"url": self.publish(self.pictures.final_bytes(index))}
        if self.fault == "data-url-result":
            return {"url": "data:image/png;base64," + self.pictures.final_b64(index)}
        return {"b64_json": self.pictures.final_b64(index)}

    def body(self) -> dict:
        count = 0 if self.fault == "no-final" else self.count
        data = [self.result(i) for i in range(count)]
        if self.fault in ("url-result", "file-link"):
            return {"created": self.created, "data": data}  # DALL-E style, as URL-returning relays answer
        return {"created": self.created, **self.job.echo(), "data": data,
                "usage": image_usage(self.job, max(1, count))}

    def stream(self) -> list:
        fault = self.fault
        items: list = []
        if fault == "stall":
            items.append(STALL)
        if fault in ("error-event-flat", "error-event-nested"):
            items.append(Event("error", ERROR_FLAT if fault == "error-event-flat" else ERROR_NESTED))
            return items
        partials = max(1, self.job.partial_images) if fault == "cut-after-partial" else self.job.partial_images
        for index in range(self.count):
            for k in range(partials):
                items.append(Event(f"{self.prefix}.partial_image", {
                    "type": f"{self.prefix}.partial_image",
                    "b64_json": self.pictures.partial_b64(k, partials, index),
                    "created_at": self.created, **self.job.echo(), "partial_image_index": k,
                }))
            if fault == "cut-after-partial":
                items.append(ABORT)
                return items
            if fault == "error-data-only":
                items.append(Raw("data: " + json.dumps({"error": UPSTREAM_ERROR}, separators=(",", ":")) + "\n\n"))
                return items
            if fault == "no-final":
                continue
            items.append(Event(f"{self.prefix}.completed", {
                "type": f"{self.prefix}.completed", **self.result(index), "created_at": self.created,
                **self.job.echo(), "usage": image_usage(self.job),
            }, final=True))
        return items

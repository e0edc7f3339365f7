"""``/v1/images/generations`` and ``/v1/images/edits`` answers: the JSON body and the stream.

Besides OpenAI's answers, what relays send there: links instead of base64 (Seedream, Jimeng and
Grok by default; ``fault=url-result``), signed like an object store's and able to expire
(``fault=expired-link``: the file answers 403) or to answer a JSON error under an image content
type (``fault=json-link``); base64 with a ``data:`` header inside ``b64_json``
(``fault=prefixed-b64``); a failed image as ``data[].error{code, message}`` (``fault=item-error``);
Seedream's stream, one ``image_generation.partial_succeeded`` per finished image and a
``partial_failed`` for a blocked one (``fault=partial-failed``).
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import Callable

from .jobs import Job
from .pictures import Pictures, image_usage
from .vendors import seedream_usage
from .wire import ABORT, STALL, Event, Raw

ERROR_FLAT = {"type": "error", "sequence_number": 0, "code": "server_error",
              "message": "The server had an error processing your request.", "param": None}
ERROR_NESTED = {"type": "error", "sequence_number": 0,
                "error": {"type": "insufficient_quota", "code": "credit_balance_exhausted",
                          "message": "You have no credits remaining.", "param": None}}
UPSTREAM_ERROR = {"message": "Upstream request failed", "type": "upstream_error", "code": "upstream_error"}
SENSITIVE = {"code": "OutputImageSensitiveContentDetected",
             "message": "The request failed because the output image may contain sensitive information."}
LINK_FAULTS = ("url-result", "expired-link", "json-link")


def signed(url: str, data: bytes) -> str:
    """An object store's pre-signed link (TOS, as Seedream's): expires in a day, its signature a long hex."""
    signature = hashlib.sha256(data).hexdigest()
    return (f"{url}?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTemulator%2F20261206%2Fcn-beijing%2Ftos"
            f"%2Frequest&X-Tos-Date=20261206T000000Z&X-Tos-Expires=86400&X-Tos-Signature={signature}")


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
        if self.fault == "item-error" and index == self.count - 1:
            return {"error": dict(SENSITIVE)}
        if self.fault == "file-link":
            return {"url": "file:///etc/passwd"}
        if self.fault in LINK_FAULTS or self.job.links:
            data = self.pictures.final_bytes(index)
            url = self.publish(data)
            return {"url": signed(url, data) if self.job.vendor == "seedream" or self.fault == "expired-link" else url}
        if self.fault == "data-url-result":
            return {"url": "data:image/png;base64," + self.pictures.final_b64(index)}
        if self.fault == "prefixed-b64":  # one-api's Replicate adapter
            return {"b64_json": "data:image/png;base64," + self.pictures.final_b64(index)}
        return {"b64_json": self.pictures.final_b64(index)}

    def usage(self, images: int) -> dict:
        return seedream_usage(self.job, images) if self.job.vendor == "seedream" else image_usage(self.job, images)

    def body(self) -> dict:
        count = 0 if self.fault == "no-final" else self.count
        data = [self.result(i) for i in range(count)]
        if self.fault in ("url-result", "file-link"):
            return {"created": self.created, "data": data}  # DALL-E style, as URL-returning relays answer
        if self.job.vendor != "openai":
            return {"model": self.job.model, "created": self.created, "data": data, "usage": self.usage(max(1, count))}
        return {"created": self.created, **self.job.echo(), "data": data,
                "usage": self.usage(max(1, count))}

    def stream(self) -> list:
        if self.job.vendor == "seedream":
            return self._seedream_stream()
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
                **self.job.echo(), "usage": self.usage(1),
            }, final=True))
        return items

    def _seedream_stream(self) -> list:
        """Ark's stream: each image as it is done (``partial_succeeded``), a blocked one as
        ``partial_failed``, then ``completed`` with the usage."""
        items: list = []
        made = 0
        for index in range(self.count):
            kind = f"{self.prefix}.partial_failed" if self.fault == "partial-failed" and index == self.count - 1 \
                else f"{self.prefix}.partial_succeeded"
            event = {"type": kind, "model": self.job.model, "created": self.created, "image_index": index}
            if kind.endswith("failed"):
                event["error"] = dict(SENSITIVE)
            else:
                made += 1
                event.update({**self.result(index), "size": self.job.size})
            items.append(Event(kind, event, final=not kind.endswith("failed")))
        items.append(Event(f"{self.prefix}.completed", {"type": f"{self.prefix}.completed", "model": self.job.model,
                                                        "created": self.created, "usage": self.usage(made)}))
        items.append(Raw("data: [DONE]\n\n"))
        return items

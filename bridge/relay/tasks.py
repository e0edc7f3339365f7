"""Async image tasks: a relay that answers a task to poll instead of the image. Pure, no I/O.

A relay that cannot hold a connection for the whole render (Cloudflare cuts it after about 100 s,
a 524) answers at once with a task, and the image is fetched with ``GET
{base}/images/generations/{task_id}`` until the task is done. The shapes read here:

    new-api (its async images, asked for with ``async: true`` or ``Prefer: respond-async``):
        HTTP 202 {"id", "task_id", "object", "status", "progress": 0..100, "created_at"}; when done
        {"status", "progress": 100, "result_url", "data": [{"url" | "b64_json"}], "error": null}
    a wrapper (Kling's image tasks and relays modelled on them):
        {"code": 0, "message", "data": {"task_id", "task_status", "task_status_msg",
         "task_result": {"images": [{"url"}]}}}
    Midjourney-proxy style fields: {"id", "status": "IN_PROGRESS", "progress": "40%", "imageUrl",
        "failReason"}
    task objects of relays such as evolink or ToAPIs: {"id", "object": "…task", "status",
        "progress", "results": ["https://…"]}
    an empty HTTP 202 whose Location (or Operation-Location) header ends in the task id

Statuses are read by meaning, whatever the case: done (succeeded, success, completed, …), failed
(failed, failure, error, cancelled, expired, …), else still running. A task's progress is the
relay's own figure, shown as the relay's ("The relay says 40%"), never a guess of ours.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from ..errors import BridgeError
from .diagnose import error_from_payload

DONE = frozenset({"succeeded", "success", "succeed", "successful", "completed", "complete", "done", "finished"})
FAILED = frozenset({"failed", "failure", "fail", "error", "errored", "cancelled", "canceled", "expired", "timeout",
                    "timed_out", "rejected", "aborted"})
TASK_OBJECTS = re.compile(r"task", re.I)  # "object": "image.generation.task", "generation.task"
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*$")


@dataclass
class Task:
    id: str
    status: str = ""  # the relay's own word, as it wrote it
    state: str = "running"  # running | done | failed
    progress: float | None = None  # percent, as the relay gave it
    error: BridgeError | None = None
    links: list[str] = field(default_factory=list)  # images a done task gives outside data[]

    def said(self) -> str:
        """The relay's own account of the task, for a progress line."""
        status = f" ({self.status})" if self.status else ""
        if self.progress is not None:
            return f"The relay says {self.progress:g}%{status}."
        return f"The relay says the task is {self.status or 'running'}."


def read(payload: object) -> Task | None:
    """The task a payload describes, or None when it is not a task object."""
    if not isinstance(payload, dict):
        return None
    body = payload
    inner = payload.get("data")
    if isinstance(inner, dict) and ("task_id" in inner or "task_status" in inner):
        body = inner  # a wrapper: {"code", "message", "data": {task}}
    status = _text(body.get("status")) or _text(body.get("task_status")) or _text(body.get("state"))
    task_id = _text(body.get("task_id")) or _text(body.get("taskId"))
    if task_id is None and status is not None and (_text(body.get("id")) and (
            TASK_OBJECTS.search(str(body.get("object") or "")) or "progress" in body or "data" not in body)):
        task_id = _text(body.get("id"))
    if task_id is None or not _ID.match(task_id) or "output" in body or "choices" in body:
        return None
    word = (status or "").strip().lower().replace(" ", "_")
    state = "done" if word in DONE else "failed" if word in FAILED else "running"
    task = Task(id=task_id, status=status or "", state=state, progress=_percent(body.get("progress")))
    if state == "failed":
        task.error = _failure(body, task_id)
    elif state == "done":
        task.links = _links(body)
    return task


def from_headers(headers: dict[str, str]) -> Task | None:
    """An empty 202's task, from the path its Location (or Operation-Location) header names."""
    for name in ("location", "operation-location", "content-location"):
        value = headers.get(name)
        if value:
            last = urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]
            if _ID.match(last):
                return Task(id=last, status="accepted")
    return None


def poll_path(task_id: str) -> str:
    return f"/images/generations/{quote(task_id, safe='._:-')}"


def _failure(body: dict, task_id: str) -> BridgeError:
    error = body.get("error")
    reason = body.get("fail_reason") or body.get("failReason") or body.get("task_status_msg") or body.get("message")
    if isinstance(error, (dict, str)) and error:
        found = error_from_payload(error)
    else:
        found = error_from_payload({"message": str(reason or "The relay's task failed without a reason.")})
    found.message = f"The relay's task {task_id} failed: {found.message}"
    if found.code in ("relay_error", "rejected"):
        found.code = "task_failed"
    return found


def _links(body: dict) -> list[str]:
    found: list[str] = []
    for key in ("result_url", "imageUrl", "image_url", "url"):
        if _text(body.get(key)):
            found.append(body[key])
    for item in body.get("results") or []:
        if _text(item):
            found.append(item)
        elif isinstance(item, dict) and _text(item.get("url")):
            found.append(item["url"])
    result = body.get("task_result")
    for item in (result.get("images") or []) if isinstance(result, dict) else []:
        if isinstance(item, dict) and _text(item.get("url")):
            found.append(item["url"])
    return list(dict.fromkeys(found))


def _percent(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    match = _PERCENT.match(str(value))
    if not match:
        return None
    number = float(match.group(1))
    return number if 0 <= number <= 100 else None


def _text(value: object) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None

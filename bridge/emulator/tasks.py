"""Async image tasks: a request answered with a task, and ``GET /v1/images/generations/{task_id}``.

new-api's async images (``docs/relay-styles.md``, F3): a request that asks for one
(``"async": true`` or ``Prefer: respond-async``) gets HTTP 202 and a task object at once, with
``Retry-After`` and a ``Location``; a second request with the same ``Idempotency-Key`` gets the
same task. ``task=newapi|wrapped|mj`` answers a task even unasked, in that relay's shape
(``wrapped``: Kling's ``{code, message, data: {task_id, task_status, task_result}}``; ``mj``:
``{id, status: IN_PROGRESS, progress: "40%", imageUrl, failReason}``). The task is done
``tasktime`` seconds after it was made (default 1), its progress the share of that time gone;
``retry=`` is the Retry-After it sends (default 1). ``fault=task-failed`` ends it failed. The
image is drawn when the task is made, published as a link when it is done.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .pictures import Pictures, image_usage

SHAPES = ("newapi", "wrapped", "mj")


@dataclass
class Task:
    id: str
    pictures: Pictures
    count: int
    shape: str
    made: float
    duration: float
    failed: bool
    publish: Callable[[bytes], str]
    links: list[str] = field(default_factory=list)

    def progress(self) -> int:
        return min(100, int(100 * (time.monotonic() - self.made) / self.duration)) if self.duration > 0 else 100


class Tasks:
    """The emulator's tasks, by id and by the Idempotency-Key that made them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Task] = {}
        self._by_key: dict[str, Task] = {}

    def make(self, pictures: Pictures, count: int, opts, publish: Callable[[bytes], str], key: str | None) -> Task:
        with self._lock:
            if key and key in self._by_key:
                return self._by_key[key]  # the same request again: the task it already made
            shape = opts.task if opts.task in SHAPES else "newapi"
            task = Task(id="task_" + secrets.token_hex(8), pictures=pictures, count=count, shape=shape,
                        made=time.monotonic(), duration=opts.tasktime, failed=opts.fault == "task-failed",
                        publish=publish)
            self._by_id[task.id] = task
            if key:
                self._by_key[key] = task
            return task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._by_id.get(task_id)


def answer(task: Task, opts, first: bool = False) -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) telling where ``task`` stands now."""
    progress = 0 if first else task.progress()
    state = "failed" if task.failed and progress >= 100 else "done" if progress >= 100 else "running"
    if state == "done" and not task.links:
        task.links = [task.publish(task.pictures.final_bytes(i)) for i in range(task.count)]
    headers = {} if state != "running" else {"Retry-After": opts.retry}
    status = 202 if first and task.shape == "newapi" else 200
    if first and task.shape == "newapi":
        headers["Location"] = f"/v1/images/generations/{task.id}"
    return status, _shape(task, state, progress), headers


def _shape(task: Task, state: str, progress: int) -> dict:
    job = task.pictures.job
    error = {"code": "generation_failed", "message": "The upstream image generation failed."}
    if task.shape == "wrapped":
        word = {"running": "processing" if progress else "submitted", "done": "succeed", "failed": "failed"}[state]
        data: dict = {"task_id": task.id, "task_status": word, "created_at": int(time.time())}
        if state == "done":
            data["task_result"] = {"images": [{"index": i, "url": url} for i, url in enumerate(task.links)]}
        if state == "failed":
            data["task_status_msg"] = error["message"]
        return {"code": 0, "message": "success", "data": data}
    if task.shape == "mj":
        word = {"running": "IN_PROGRESS" if progress else "SUBMITTED", "done": "SUCCESS", "failed": "FAILURE"}[state]
        return {"id": task.id, "action": "IMAGINE", "status": word, "progress": f"{progress}%",
                "imageUrl": task.links[0] if task.links else "",
                "failReason": error["message"] if state == "failed" else ""}
    body: dict = {"id": task.id, "task_id": task.id, "object": "image.generation.task", "model": job.model,
                  "status": {"running": "in_progress" if progress else "queued", "done": "succeeded",
                             "failed": "failed"}[state],
                  "progress": progress, "created_at": int(time.time()), "error": None}
    if state == "done":
        body.update(completed_at=int(time.time()), result_url=task.links[0], data=[{"url": u} for u in task.links],
                    usage=image_usage(job, task.count))
    if state == "failed":
        body["error"] = error
    return body

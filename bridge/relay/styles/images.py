"""The OpenAI Images API, as relays serve it: ``POST /images/generations`` (JSON) and ``/images/edits``
(multipart).

With partial images (or IMAGE_RELAY_STREAM=true) the request streams and the
``image_generation.*`` / ``image_edit.*`` events are read; otherwise the ``data[]`` body is. Models
that are not OpenAI's get their own fields from the model table (``vendor``): Seedream and Jimeng
edits go as JSON ``image`` to ``/images/generations``. Results may be links (downloaded without
the key) or base64 with a ``data:`` header inside ``b64_json``.

Async tasks: IMAGE_RELAY_ASYNC=true asks for one (``async: true``, ``Prefer: respond-async`` and an
``Idempotency-Key`` that stays the same for every attempt of the job); an answer that is a task
(an HTTP 202, or a task object, ``tasks``) becomes a ``task`` signal, and the task is polled with
``GET /images/generations/{task_id}``, whose answers this same reader reads.

Failures per image: ``data[].error{code, message}`` and Seedream's streamed
``image_generation.partial_failed`` (``OutputImageSensitiveContentDetected`` is ``content_policy``);
with no image at all the first is the error, with some images they are warnings. Seedream's
``image_generation.partial_succeeded`` is one finished image of the set, not a preview.
"""
from __future__ import annotations

from ...config import Settings
from ...errors import ProtocolError
from ...user_request import Job
from .. import tasks, vendor
from ..call import HttpCall
from ..diagnose import error_from_payload
from ..events import Reader, Signal, int_of, meta_of, text_of
from .base import MASK_NOTE, Style, b64_bytes, data_url, image_options, visible_mask, without


def images_stream(job: Job, settings: Settings) -> bool:
    """IMAGE_RELAY_STREAM: auto streams the Images API only for partial images; false never streams,
    nor does a request for an async task (its answer is the task)."""
    if settings.stream == "false" or settings.async_images:
        return False
    return settings.stream == "true" or job.partial_images > 0


class ImagesStyle(Style):
    name = "images"
    title = "the Images API"
    payload_keys = ("b64_json",)
    link_keys = ("url",)
    partial_images = True

    def call(self, job: Job, settings: Settings, dropped: frozenset[str] = frozenset()) -> HttpCall:
        model, stream = settings.image_model, images_stream(job, settings)
        params = self._params(job, settings)
        headers: tuple[tuple[str, str], ...] = ()
        if settings.async_images:
            params["async"] = True
            # The same key for every attempt of this job: a relay that saw it answers the task it made.
            headers = (("Prefer", "respond-async"), ("Idempotency-Key", job.request_key))
        if not job.is_edit or vendor.json_edits(model):
            images = [data_url(img) for img in job.images]
            if job.mask is not None:
                params["prompt"] = f"{job.prompt}\n\n{MASK_NOTE}"
                images.append("data:image/png;base64," + b64_bytes(visible_mask(job)))
            body = without(vendor.fields(params, job, model, images), dropped)
            return HttpCall(path="/images/generations", stream=stream, json=body, headers=headers)
        params = without(vendor.fields(params, job, model, []), dropped)
        fields = [(key, _form_value(value)) for key, value in params.items()]
        # The OpenAI SDK names one file "image" and a list "image[]"; relays accept both.
        part = "image" if len(job.images) == 1 else "image[]"
        files = [(part, img.filename, img.data, img.info.mime_type) for img in job.images]
        if job.mask is not None:
            files.append(("mask", job.mask.filename, job.mask.data, job.mask.info.mime_type))
        return HttpCall(path="/images/edits", stream=stream, fields=fields, files=files, headers=headers)

    def _params(self, job: Job, settings: Settings) -> dict:
        params: dict = {"model": settings.image_model, "prompt": job.prompt, "n": job.n}
        params.update(image_options(job, settings))
        if images_stream(job, settings):
            params["stream"] = True
            if job.partial_images > 0:
                params["partial_images"] = job.partial_images
        return params

    def poll(self, task_id: str) -> HttpCall:
        return HttpCall(path=tasks.poll_path(task_id), stream=False, method="GET")

    def reader(self) -> Reader:
        return ImagesReader()


class ImagesReader(Reader):
    def __init__(self) -> None:
        super().__init__()
        self.item_errors: list = []

    def feed(self, payload: object, event_name: str = "message") -> list[Signal]:
        if isinstance(payload, dict):
            kind = str(payload.get("type") or "")
            if kind.endswith(".partial_failed"):  # one image of the set failed; the others may come
                self._count(kind)
                self._item_error(payload.get("error") or {"message": "One of the images failed."})
                return self._accept()
            task = None if kind else tasks.read(payload)
            if task is not None:
                self._count("task")
                return self._task(payload, task)
        return super().feed(payload, event_name)

    def untyped(self, kind: str, payload: dict) -> list[Signal]:
        return self._body(payload) if isinstance(payload.get("data"), list) else []

    def finish(self) -> None:
        super().finish()
        if self.item_errors:
            first = self.item_errors[0]
            self.outcome.notes.append(f"{len(self.item_errors)} of the images asked for failed "
                                      f"({first.upstream_code or first.code}): {first.message}")

    def _task(self, payload: dict, task: tasks.Task) -> list[Signal]:
        if task.state == "failed":
            raise task.error
        if task.state == "running":  # polling says so itself, with the task's id
            self._accepted = True
            return [Signal("task", meta={"task": task})]
        signals = self._body(payload) if isinstance(payload.get("data"), list) else self._start()
        if not self.outcome.finals:
            signals += [self._found(link) for link in task.links]
        if not self.outcome.finals and self.outcome.item_error is None:
            self.outcome.item_error = ProtocolError(f"The relay says task {task.id} is done, but its answer holds no "
                                                    "image.", code="no_image")
        return signals

    def _completed(self, payload: dict) -> list[Signal]:
        if isinstance(payload.get("data"), list):
            return self._body(payload)
        b64, url = text_of(payload.get("b64_json")), text_of(payload.get("url"))
        if payload.get("usage"):
            self.outcome.usage = payload["usage"]
        if payload.get("revised_prompt"):
            self.outcome.revised_prompt = payload["revised_prompt"]
        if not (b64 or url):
            return []
        return self._start() + [self._final(b64, url, meta_of(payload))]

    def _succeeded(self, payload: dict) -> list[Signal]:
        """Seedream's streamed image: one finished image of the set (``image_index``), not a preview."""
        b64, url = text_of(payload.get("b64_json")), text_of(payload.get("url"))
        if not (b64 or url):
            return []
        index = int_of(payload.get("image_index"), self.outcome.finals)
        return self._start() + [self._final(b64, url, meta_of(payload), index=index)]

    def _body(self, body: dict) -> list[Signal]:
        if body.get("usage"):
            self.outcome.usage = body["usage"]
        signals = self._start()
        for entry in body.get("data") or []:
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("error"), (dict, str)) and entry["error"]:
                self._item_error(entry["error"])
                continue
            b64, url = text_of(entry.get("b64_json")), text_of(entry.get("url"))
            if entry.get("revised_prompt"):
                self.outcome.revised_prompt = entry["revised_prompt"]
            if b64 or url:
                signals.append(self._final(b64, url, meta_of({**body, **entry})))
        return signals

    def _item_error(self, error: object) -> None:
        found = error_from_payload(error)
        self.item_errors.append(found)
        if self.outcome.item_error is None:
            self.outcome.item_error = found

    def _count(self, kind: str) -> None:
        self.outcome.event_counts[kind] = self.outcome.event_counts.get(kind, 0) + 1

    handlers = {
        "image_generation.partial_image": Reader._partial,
        "image_edit.partial_image": Reader._partial,
        "image_generation.partial_succeeded": _succeeded,
        "image_edit.partial_succeeded": _succeeded,
        "image_generation.completed": _completed,
        "image_edit.completed": _completed,
    }


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


STYLE = ImagesStyle()

"""Which style answers which route: the job each request asks for, and the builder of its answer.

The emulator mirrors the bridge's ``relay/styles``: one module per shape (``responses``,
``images``, ``chat``, ``gemini``), each with a job parser and an answer builder that gives the
whole body (``body()``) or the stream (``stream()``). A new shape is one more entry here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .chat import ChatBuilder, chat_job
from .faults import error_body
from .gemini import GeminiBuilder, gemini_job, unknown_model
from .images import ImagesBuilder
from .jobs import ApiError, Job, bad_request, edits_job, generations_job, json_edit_parts, responses_job
from .openrouter import OpenRouterBuilder, openrouter_job
from .responses import ResponseBuilder

_PLAIN = {"/v1/responses": "responses", "/v1/images/generations": "generations", "/v1/images/edits": "edits",
          "/v1/chat/completions": "chat", "/v1/images": "openrouter"}
_GEMINI = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)$")
_TASK = re.compile(r"^/v1/images/generations/([A-Za-z0-9._:-]+)$")


@dataclass(frozen=True)
class Route:
    kind: str  # responses | generations | edits | chat | gemini | openrouter | task (a GET of an async task)
    model: str = ""  # named in the path (Gemini; the task id of a task)
    streams: bool = False  # the path asks for a stream (Gemini's :streamGenerateContent)


def match(method: str, path: str) -> Route | None:
    path = path.rstrip("/")
    if method == "GET" and _TASK.match(path):
        return Route("task", _TASK.match(path)[1])
    if method != "POST":
        return None
    if path in _PLAIN:
        return Route(_PLAIN[path])
    found = _GEMINI.match(path)
    if found:
        return Route("gemini", unquote(found[1]), found[2] == "streamGenerateContent")
    return None


def job_for(route: Route, record, opts, earlier_image) -> Job:
    """The job a request asks for; ``earlier_image(response_id)`` finds a Responses answer's image."""
    kind = route.kind
    if record.parse_error and "multipart" in record.headers.get("content-type", ""):
        raise bad_request(f"Could not parse the multipart form: {record.parse_error}.", None, None)
    if record.parse_error:
        raise ApiError(400, error_body(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly.)"))
    if kind == "edits" and record.parts:
        fields, files = record.form, record.files
    elif kind == "edits":
        fields, files = json_edit_parts(record.json)
    else:
        fields, files = record.json, []
    if opts.fault == "unknown-param" and opts.param in _sent_params(kind, fields, files):
        raise ApiError(400, error_body(f"Unknown parameter: '{opts.param}'.", param=opts.param,
                                       code="unknown_parameter"))
    if kind == "responses":
        earlier = None
        previous = fields.get("previous_response_id") if isinstance(fields, dict) else None
        if previous:
            earlier = earlier_image(str(previous))
            if earlier is None:
                raise ApiError(400, error_body(f"Previous response with id '{previous}' not found.",
                                               param="previous_response_id", code="previous_response_not_found"))
        return responses_job(fields, earlier)
    if kind == "generations":
        return generations_job(fields)
    if kind == "openrouter":
        return openrouter_job(fields)
    if kind == "chat":
        return chat_job(fields, opts.reads, opts.fault)
    if kind == "gemini":
        if not route.model.startswith(("gemini", "nano")) and "image" not in route.model:
            raise unknown_model(route.model)
        job = gemini_job(fields, route.model)
        job.stream = route.streams
        return job
    return edits_job(fields, files)


def builder_for(route: Route, job: Job, pictures, opts, publish):
    if route.kind == "responses":
        return ResponseBuilder(job, pictures, opts.fault, markdown=opts.shape == "markdown")
    if route.kind == "chat":
        return ChatBuilder(job, pictures, opts, publish)
    if route.kind == "gemini":
        return GeminiBuilder(job, pictures, opts, publish)
    if route.kind == "openrouter":
        return OpenRouterBuilder(job, pictures, opts)
    return ImagesBuilder(job, pictures, opts.fault, publish)


def _sent_params(kind: str, fields, files) -> set[str]:
    if not isinstance(fields, dict):
        return set()
    if kind == "responses":
        tools = fields.get("tools") or []
        first = tools[0] if tools and isinstance(tools[0], dict) else {}
        return set(first)
    return set(fields) | {p.name for p in files}

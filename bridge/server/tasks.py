"""generate_image as an MCP task: the extension ``io.modelcontextprotocol/tasks`` (MCP 2026-07-28, SEP-2663).

A client that declares the extension in a request's ``_meta`` client capabilities gets, for a
generate_image call with an image still to make, a task at once instead of a call that blocks:
the task is the job (its id is the job id, its time to live the job record's), ``tasks/get``
reports the job's progress while it runs and, once it is done, the very result a blocking call
returns (``answers``). The call's own steps are the tool's (``app``, ``calls``): arguments are
checked, a re-sent identical call joins its job, a refusal or a finished job is answered at once;
only the wait is left out, through ``hand_over``. Because a task is a job, it outlives its server:
the next server answers ``tasks/get`` from the job records, and a shared server's caller sees only
its own tasks (``audience``). Every other client, and every client of an earlier revision, gets the
blocking call unchanged; the experimental tasks of 2025-11-25 are not served.

``tasks/cancel`` ends the task's waiting, never a paid generation (unless
IMAGE_RELAY_MCP_CANCEL_STOPS_JOB is set): the task reports ``cancelled`` at once, since its client
said it will not read the result, and the job runs on like the job of a cancelled call, reported by
the reader's next generate_image result and returned by a ``job_id`` call. A task whose job had
already ended stays ``completed``.
"""
from __future__ import annotations

import contextvars
import time
from collections import OrderedDict
from datetime import datetime, timezone

from mcp.server.apps import client_supports_apps
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, RequestParams
from mcp_types.methods import serialize_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from . import answers
from .audience import audience_of
from .background import FINISHING_GRACE, KEEP_SECONDS, saved_result
from .calls import told

IDENTIFIER = "io.modelcontextprotocol/tasks"
TOOL = "generate_image"
POLL_MS = 2000  # an image arrives at most this long after its job ends; a poll costs the server nothing
TTL_MS = KEEP_SECONDS * 1000  # a job's record (so its task) is kept this long after it starts
WATCH_SECONDS = 30.0  # a task polled this recently is its job's waiter: no other result announces the job
KEEP = 256  # ended tasks this server remembers as first answered, so every later poll reads the same

# Set around a generate_image call of a client that declared the extension: the tool hands its job here.
_TASK_CALL: contextvars.ContextVar[dict | None] = contextvars.ContextVar("image_task_call", default=None)


class TaskParams(RequestParams):
    task_id: str = Field(alias="taskId", min_length=1, max_length=200)


class UpdateParams(TaskParams):
    input_responses: dict = Field(default_factory=dict, alias="inputResponses")


def hand_over(found, joined: str | None) -> CallToolResult | None:
    """In a call whose client takes tasks, the job it would wait for becomes the task: the tool
    returns this stand-in (``Tasks`` answers with the task) instead of waiting. None elsewhere,
    and for a job that has ended (its result is answered at once)."""
    holder = _TASK_CALL.get()
    if holder is None or isinstance(found, dict) or found.done.is_set():
        return None
    holder.update(job=found, joined=joined)
    return answers.text_result(f"The image is being generated as task {found.id}.")


class Tasks(Extension):
    identifier = IDENTIFIER

    def __init__(self, jobs, settings) -> None:
        self._jobs = jobs  # () -> Jobs: the one job lookup generate_image's job_id uses
        self._settings = settings  # () -> Settings of the server (raises BridgeError when unusable)
        self._cancelled: OrderedDict[str, None] = OrderedDict()  # tasks whose client stopped waiting
        self._done: OrderedDict[str, dict] = OrderedDict()

    def methods(self):
        versions = frozenset(MODERN_PROTOCOL_VERSIONS)  # a client of an earlier revision has no such methods
        return [MethodBinding("tasks/get", TaskParams, self.get, versions),
                MethodBinding("tasks/cancel", TaskParams, self.cancel, versions),
                MethodBinding("tasks/update", UpdateParams, self.update, versions)]

    async def intercept_tool_call(self, params, ctx, call_next):
        # A host that renders the image card follows the job in the card, from a blocking call's result.
        if params.name != TOOL or not declared(ctx) or _renders_cards(ctx):
            return await call_next(ctx)
        holder: dict = {}
        token = _TASK_CALL.set(holder)
        try:
            result = await call_next(ctx)
        finally:
            _TASK_CALL.reset(token)
        job = holder.get("job")
        if job is None:
            return result  # refused, or its job had ended: the result itself, at once
        job.watched_until = time.time() + WATCH_SECONDS
        message = f"Generating the image as job {job.id}; it usually takes one to three minutes."
        return {"resultType": "task", **_task(job.id, "working", job.started, time.time(),
                                              " ".join(filter(None, [message, holder["joined"]])))}

    async def get(self, ctx, params: TaskParams):
        reader, found = self._find(ctx, params.task_id)
        task_id = params.task_id.strip()
        if task_id in self._done:
            return self._done[task_id]
        started = found["started"] if isinstance(found, dict) else found.started
        if task_id in self._cancelled:
            return _task(task_id, "cancelled", started, time.time(), _CANCELLED.format(id=task_id))
        if isinstance(found, dict) and found.get("status") == "running":  # queued in another live server
            return _task(task_id, "working", started, time.time(), "Waiting for a free slot in another server.")
        if not isinstance(found, dict) and not _ended(found):
            found.watched_until = time.time() + WATCH_SECONDS
            last = found.progress[-1] if found.progress else None
            news = told(last, reader) if last else found.last_event
            return _task(task_id, "working", started, started + (last.elapsed if last else 0.0),
                         f"Generating the image, {found.elapsed():.0f} s so far: {news}")
        settings = self._usable_settings()
        jobs = self._jobs()
        if isinstance(found, dict):
            result = await answers.from_record(found, jobs, settings, reader)
        else:
            result = await answers.settled(found, settings, jobs, reader, ctx)
        finished = found.get("finished") if isinstance(found, dict) else found.finished
        payload = serialize_server_result("tools/call", ctx.protocol_version,
                                          result.model_dump(by_alias=True, mode="json", exclude_none=True))
        done = _task(task_id, "completed", started, finished or time.time(), None, result=payload)
        _remember(self._done, task_id, done)
        return done

    async def cancel(self, ctx, params: TaskParams):
        _, found = self._find(ctx, params.task_id)
        task_id = params.task_id.strip()
        if task_id in self._done or isinstance(found, dict) or found.done.is_set():
            return {}  # it has ended: its outcome stands
        _remember(self._cancelled, task_id, None)
        found.watched_until = 0.0  # from now on the reader's next result reports it, like a cancelled call's job
        found.let_go(stop=self._usable_settings().mcp_cancel_stops_job)
        return {}

    async def update(self, ctx, params: UpdateParams):
        self._find(ctx, params.task_id)
        return {}  # a generation never asks its client for input, so no response is outstanding

    def _find(self, ctx, task_id: str):
        """The reader and the reader's job the task id names; the protocol's errors otherwise."""
        require_client_extension(ctx, IDENTIFIER)
        reader = audience_of(ctx)
        found = self._jobs().get(task_id.strip(), reader.owner)
        if found is None:  # another caller's task is as unknown as one that never was
            raise MCPError(INVALID_PARAMS, f"Failed to retrieve task: there is no image task {task_id.strip()[:40]!r} "
                                           "for you on this server.")
        return reader, found

    def _usable_settings(self):
        from ..errors import BridgeError
        try:
            return self._settings()
        except BridgeError as error:
            raise MCPError(INTERNAL_ERROR, str(error)) from None


_CANCELLED = ("The task was cancelled; the image generation it waited for runs on and is not billed again: "
              "job {id}'s image will be saved and reported by the next generate_image result, or returned by a "
              "generate_image call with job_id=\"{id}\".")


def _ended(job) -> bool:
    """The job has its result, or has saved its image while the relay keeps its answer open past the grace
    a blocking call gives it (``background.wait``): then that image is the result, as for that call."""
    if job.done.is_set():
        return True
    saved = next((p for p in job.progress if p.stage == "saved"), None)
    return saved is not None and time.time() - (job.started + saved.elapsed) > FINISHING_GRACE \
        and saved_result(job) is not None


def declared(ctx) -> bool:
    """This request's client takes tasks: the 2026 wire, with the extension in the request's capabilities."""
    if getattr(ctx, "protocol_version", None) not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = getattr(ctx.session, "client_capabilities", None)
    return IDENTIFIER in ((capabilities.extensions if capabilities else None) or {})


def _remember(memory: OrderedDict, key: str, value) -> None:
    memory[key] = value
    while len(memory) > KEEP:
        memory.popitem(last=False)


def _renders_cards(ctx) -> bool:
    try:
        return client_supports_apps(ctx)
    except Exception:  # noqa: BLE001 - no session: no card
        return False


def _task(task_id: str, status: str, created: float, updated: float, message: str | None, **extra) -> dict:
    task = {"taskId": task_id, "status": status, "createdAt": _iso(created),
            "lastUpdatedAt": _iso(max(created, updated)), "ttlMs": TTL_MS, "pollIntervalMs": POLL_MS, **extra}
    if message:
        task["statusMessage"] = message
    return task


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""The steps of one generate_image call, for whichever reader it is (``audience``):
resolve the inputs, join or start the job (admission included), wait. ``answers`` replies.

The tool in ``app`` runs them in order; anything else that starts a generation for a client (the
card's actions) goes through the tool, so the rules are the same everywhere.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import anyio
import anyio.to_thread

from . import card

HEARTBEAT_SECONDS = 5.0
log = logging.getLogger("image-relay-mcp")


async def resolve_inputs(args: dict, reader, settings, jobs, ctx):
    """The GenerationRequest of a call, the settings with the reader's output folder, and the folder
    relative inputs resolve against. Raises BridgeError (nothing sent) for inputs that cannot be used."""
    from ..user_request import GenerationRequest
    limit = settings.mcp_upload_max_mb * 1048576
    sources, mask = reader.inputs(args.get("image_paths"), args.get("mask_path"), args.get("images"),
                                  args.get("mask"), limit)
    settings, base = await reader.outputs(settings, ctx)
    previous = None
    if args.get("edit_of"):
        earlier = reader.edit_source(jobs, args["edit_of"])
        sources, previous = (earlier.path, *sources), earlier.response_id
    request = GenerationRequest(
        prompt=args["prompt"], image_paths=tuple(sources), mask_path=mask, size=args.get("size"),
        aspect_ratio=args.get("aspect_ratio"), resolution=args.get("resolution"), quality=args.get("quality"), output_format=args.get("output_format"), background=args.get("background"),
        output_compression=args.get("output_compression"), partial_images=args.get("partial_images"),
        n=args.get("n") or 1, moderation=args.get("moderation"), input_fidelity=args.get("input_fidelity"),
        negative_prompt=args.get("negative_prompt"), seed=args.get("seed"),
        use_template=args.get("use_prompt_template", True), output_name=args.get("output_name"),
        previous_response_id=previous)
    return request, settings, base


async def join_or_start(reader, jobs, request, settings, base: Path):
    """The job an identical call started (joined: a sentence saying so), else a new one the reader's
    limits admit. Finding, admitting and starting are one step (``Jobs.join_or_start``), so calls
    sent at once cannot all pass admission before any of them has a job. Raises LimitReached."""
    from .matching import call_key
    key = await anyio.to_thread.run_sync(call_key, request, settings, reader.owner)
    found, joined = jobs.join_or_start(
        key, reader.owner, admit=lambda running: reader.admit(running, request.n, settings),
        start=lambda: _start(jobs, request, settings, base, reader.owner, key))
    card.note(found)
    if not joined:
        return found, None
    started = found.get("started") if isinstance(found, dict) else found.started
    ago = f", started {time.time() - started:.0f} s ago" if started else ""
    return found, (f"This call repeats the one that started job {_id(found)}{ago}: it joined that job instead of "
                   "starting a new, billed generation.")


def _id(found) -> str:
    return found["id"] if isinstance(found, dict) else found.id


def _start(jobs, request, settings, base: Path, owner: str | None, key: str):
    from ..relay.transport import CancelToken
    from .runner import run_in_worker

    cancel = CancelToken()
    return jobs.start(request.prompt, lambda job: run_in_worker(job, request, settings, base, jobs.dir, cancel),
                      cancel=cancel, owner=owner, key=key)


async def wait(job, settings, ctx, reader) -> bool:
    """Wait for the job within the budget, relaying its progress and a heartbeat; True when done."""
    from .background import wait as wait_for

    ticker = _Ticker(ctx)

    async def forward(progress) -> None:
        await ticker.send(progress.step, progress.total, told(progress, reader))

    async with anyio.create_task_group() as group:
        group.start_soon(ticker.heartbeat)
        try:
            done = await wait_for(job, card.budget(settings.mcp_wait_seconds), sleep=anyio.sleep, forward=forward,
                                  stop_on_cancel=settings.mcp_cancel_stops_job)
        except anyio.get_cancelled_exc_class():
            log.info("a generate_image call was cancelled; job %s %s", job.id,
                     "was stopped" if settings.mcp_cancel_stops_job else "runs on and will be reported")
            raise
        finally:
            group.cancel_scope.cancel()
    if done and ctx is not None:
        # Claude Code drops the whole connection (and so the server) when a progress notification
        # is handled after the result it belongs to; give the last ones a moment to be read first.
        await anyio.sleep(0.1)
    return done


def told(progress, reader) -> str:
    """A progress event as the reader is told it: a saved or partial image by its link, never its path."""
    message = progress.message
    if reader.file_link is not None and progress.path:
        link = reader.file_link(progress.path)
        message = message.replace(progress.path, link) if progress.path in message else f"{message} {link}"
    return message


class _Ticker:
    """MCP progress must increase with every notification, heartbeats included."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.value = 0.0
        self.total: float | None = None
        self.last = time.monotonic()
        self.started = self.last

    async def send(self, step: float, total: float | None, message: str) -> None:
        self.value = max(float(step), self.value + 0.001)
        self.total = total
        await self._notify(message)

    async def heartbeat(self) -> None:
        while True:
            await anyio.sleep(1.0)
            if time.monotonic() - self.last >= HEARTBEAT_SECONDS:
                ceiling = int(self.value) + 0.99
                self.value = min(ceiling, self.value + 0.01) if self.value + 0.01 < ceiling else self.value + 0.0001
                await self._notify(f"Still waiting for the relay ({time.monotonic() - self.started:.0f} s).")

    async def _notify(self, message: str) -> None:
        self.last = time.monotonic()
        if self.ctx is None:
            return
        try:
            await self.ctx.report_progress(self.value, self.total, message)
        except Exception:  # noqa: BLE001 - progress is best effort
            pass

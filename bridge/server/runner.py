"""Where a job's generation runs: a detached worker process per job (``worker``), followed by files.

A process per job rather than one long-lived per-user runner: there is nothing to discover,
lock, keep alive or shut down when idle; a crash takes one job with it, not all; the job's
lifetime is exactly the generation's; and every server, of any client, follows a job the same
way, through the files its worker writes in the user's job folder. The price is one interpreter
start per generation (measured by ``bench/bench_jobs.py``), paid beside the call, which then waits
minutes for the relay anyway.

A worker that dies while the relay's async task runs is not the end of the job: the task is taken
up by a new worker that only polls it (``resume``), with the settings of the server that resumes it
(the same relay, checked by the hash the job's record keeps, never its address).
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..i18n import translate
from ..progress import Progress
from ..result import GenerationResult
from ..system import detach
from .background import MAX_RESUMES, saved_result
from .worker import BOOT, EVENTS, RESULT, order_for, read_result

POLL = 0.02  # how often a follower looks for new progress and the result
DEADLINE_MARGIN = 120.0  # past the job's own total timeout, a silent worker is given up on


def run_in_worker(job, request, settings, base_dir: Path, folder: Path, cancel) -> GenerationResult:
    """Start the job's worker, hand it its order, and follow it to its result."""
    from ..relay.negotiate import relay_key
    folder.mkdir(parents=True, exist_ok=True)
    # What taking the relay's task up again needs, should this worker die while it polls: no secret.
    job.order = {"output_dir": settings.output_dir, "base_dir": str(base_dir), "relay": relay_key(settings.base_url)}
    started = _start(folder, settings)
    job.worker, job.worker_start = started.pid, started.how
    job.deadline = round(time.time() + settings.total_timeout + DEADLINE_MARGIN, 3)
    if started.contained:
        # The client's MCP log is where a person reads it: in their language (the note is Windows' words).
        print("image-relay-mcp: " + translate(f"Job {job.id}'s worker could not leave the client's job object, so "
                                              f"closing or restarting this server before it ends would lose its image "
                                              f"({started.note})."), file=sys.stderr)
    if job.persist is not None:
        job.persist()  # from here a later server finds the worker, whatever happens to this one
    started.line.send(order_for(job.id, folder, request, settings, base_dir, settings.mcp_cancel_stops_job,
                                face=job.face, owner=job.owner))
    try:
        return follow(job, folder, alive=started.alive, cancel=cancel, stop=lambda: started.line.send(b"cancel\n"))
    finally:
        started.release()


def follow(job, folder: Path, *, alive: Callable[[], bool], cancel=None, stop: Callable[[], None] | None = None,
           deadline: float | None = None) -> GenerationResult:
    """Pass the worker's progress to ``job.on_progress`` until its result is written."""
    reader = _Events(folder / f"{job.id}{EVENTS}")
    stopped = False
    while True:
        reader.read(job.on_progress)
        result = read_result(folder, job.id)
        if result is not None:
            reader.read(job.on_progress)
            return result
        if cancel is not None and cancel.cancelled and stop is not None and not stopped:
            stopped = True
            stop()
        deadline = deadline or job.deadline
        if not alive() or (deadline and time.time() > deadline):
            result = read_result(folder, job.id)  # it may have finished just now
            if result is not None:
                reader.read(job.on_progress)
                return result
            reader.read(job.on_progress)
            saved = saved_result(job)
            if saved is not None:  # it saved and checked the paid image before it ended: that is the result
                return replace(saved, warnings=("The job's worker ended before it wrote its result; the image "
                                                "it saved and checked is the one the relay billed.",))
            if job.relay_task and job.order and job.resumes < MAX_RESUMES:
                return resume(job, folder)  # the relay still makes the image: poll its task, generate nothing
            return GenerationResult(ok=False, elapsed_seconds=round(job.elapsed(), 2), error={
                "code": "lost", "message": "The job's worker process ended without a result.", "retryable": False},
                partial_image_paths=tuple(job.partial_paths), exit_code=1)
        time.sleep(POLL)


def resume(job, folder: Path) -> GenerationResult:
    """Take up a job's async task in a new worker that only polls it (nothing is generated again)."""
    from ..config import load_settings
    from ..errors import BridgeError
    from ..relay.negotiate import relay_key
    from ..relay.transport import CancelToken
    from ..user_request import GenerationRequest
    job.resumes += 1
    order = job.order or {}
    try:
        settings = load_settings({"IMAGE_RELAY_API_MODE": "images"})
    except BridgeError as error:
        return _stopped(job, error.message)
    if relay_key(settings.base_url) != order.get("relay"):
        return _stopped(job, "The relay configured now is not the one that holds the job's task.")
    settings = replace(settings, output_dir=order.get("output_dir") or settings.output_dir,
                       shared=job.owner is not None)
    job.on_progress(Progress("waiting", f"The job's worker stopped while the relay was making the image; asking the "
                                        f"relay for task {job.relay_task} again (nothing is generated again).",
                             round(job.elapsed(), 1), 0, 0, task=job.relay_task))
    request = GenerationRequest(prompt=job.prompt or "", task_id=job.relay_task, use_template=False)
    (folder / f"{job.id}{RESULT}").unlink(missing_ok=True)  # the stopped run's outcome gives way to this one
    cancel = job.cancel if job.cancel is not None else CancelToken()
    return run_in_worker(job, request, settings, Path(order.get("base_dir") or folder), folder, cancel)


def _stopped(job, why: str) -> GenerationResult:
    return GenerationResult(ok=False, elapsed_seconds=round(job.elapsed(), 2), error={
        "code": "lost", "message": f"The job's worker ended while the relay was making the image as task {job.relay_task}. "
        f"{why} Fetch the image with image-relay-generate --task {job.relay_task} once the relay is configured again.",
        "retryable": False, "task_id": job.relay_task}, partial_image_paths=tuple(job.partial_paths), exit_code=1)


class _Events:
    """Reads the JSON lines a worker appends, each once; a half-written last line waits."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def read(self, callback: Callable[[Progress], None]) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            try:
                callback(Progress(**json.loads(line)))
            except (ValueError, TypeError):
                continue


def _start(folder: Path, settings) -> detach.Started:
    """The worker, detached from the server (and on Windows out of the client's job object), so what
    ends the server does not reach it; it runs the very package this server runs, from the job folder."""
    import bridge
    root = str(Path(bridge.__file__).resolve().parent.parent)
    ways_out = tuple(way for way in settings.mcp_outside_job.split(",") if way != "off")
    flags = ["-I", "-B"] if sys.dont_write_bytecode else ["-I"]  # -I ignores PYTHONDONTWRITEBYTECODE: pass it on
    return detach.start([detach.python(), *flags, "-c", BOOT, root], folder, outside=ways_out)

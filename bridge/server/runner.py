"""Where a job's generation runs: a detached worker process per job (``worker``), followed by files.

A process per job rather than one long-lived per-user runner: there is nothing to discover,
lock, keep alive or shut down when idle; a crash takes one job with it, not all; the job's
lifetime is exactly the generation's; and every server, of any client, follows a job the same
way, through the files its worker writes in the user's job folder. The price is one interpreter
start per generation (measured by ``bench/bench_jobs.py``), paid beside the call, which then waits
minutes for the relay anyway.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..progress import Progress
from ..result import GenerationResult
from ..system import detach
from .background import saved_result
from .worker import BOOT, EVENTS, order_for, read_result

POLL = 0.02  # how often a follower looks for new progress and the result
DEADLINE_MARGIN = 120.0  # past the job's own total timeout, a silent worker is given up on


def run_in_worker(job, request, settings, base_dir: Path, folder: Path, cancel) -> GenerationResult:
    """Start the job's worker, hand it its order, and follow it to its result."""
    folder.mkdir(parents=True, exist_ok=True)
    started = _start(folder, settings)
    job.worker, job.worker_start = started.pid, started.how
    job.deadline = round(time.time() + settings.total_timeout + DEADLINE_MARGIN, 3)
    if started.contained:
        print(f"image-relay-mcp: job {job.id}'s worker could not leave the client's job object, so closing or "
              f"restarting this server before it ends would lose its image ({started.note})", file=sys.stderr)
    if job.persist is not None:
        job.persist()  # from here a later server finds the worker, whatever happens to this one
    started.line.send(order_for(job.id, folder, request, settings, base_dir, settings.mcp_cancel_stops_job))
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
            return GenerationResult(ok=False, elapsed_seconds=round(job.elapsed(), 2), error={
                "code": "lost", "message": "The job's worker process ended without a result.", "retryable": False},
                partial_image_paths=tuple(job.partial_paths), exit_code=1)
        time.sleep(POLL)


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

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
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..progress import Progress
from ..result import GenerationResult
from ..system.processes import spawn_detached
from .background import saved_result
from .worker import EVENTS, order_for, read_result

POLL = 0.02  # how often a follower looks for new progress and the result
DEADLINE_MARGIN = 120.0  # past the job's own total timeout, a silent worker is given up on


def run_in_worker(job, request, settings, base_dir: Path, folder: Path, cancel) -> GenerationResult:
    """Start the job's worker, hand it its order, and follow it to its result."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = _spawn()
    job.worker = proc.pid
    job.deadline = round(time.time() + settings.total_timeout + DEADLINE_MARGIN, 3)
    if job.persist is not None:
        job.persist()  # from here a later server finds the worker, whatever happens to this one
    order = order_for(job.id, folder, request, settings, base_dir, settings.mcp_cancel_stops_job,
                      face=job.face, owner=job.owner)

    def tell(text: bytes) -> None:
        try:
            proc.stdin.write(text)
            proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the worker is gone; following it finds out

    tell(order)
    try:
        return follow(job, folder, alive=lambda: proc.poll() is None, cancel=cancel, stop=lambda: tell(b"cancel\n"))
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        threading.Thread(target=proc.wait, name=f"reap-{job.id}", daemon=True).start()  # no zombie, no wait


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


def _spawn() -> subprocess.Popen:
    """The worker, detached from the server, so what ends the server does not reach it."""
    import bridge
    env = dict(os.environ)
    root = str(Path(bridge.__file__).resolve().parent.parent)  # the very package this server runs
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return spawn_detached([sys.executable, "-m", "bridge.server.worker"], stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

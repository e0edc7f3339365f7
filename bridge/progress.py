"""Progress of one job, from what the relay really sends: one source for the CLI and the MCP server."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    stage: str  # connecting, connected, accepted, task, polling, started, partial, rendered, final, saved, retry,
    # fallback, waiting
    message: str
    elapsed: float
    step: int
    total: int
    path: str | None = None  # the file a "partial" or "saved" stage wrote
    task: str | None = None  # the relay's task id, once it answered with a task to poll (kept in job records)

    def line(self, message: str | None = None) -> str:
        """The CLI's progress line; ``message``: the message as the reader is shown it (translated)."""
        return f"[progress] [{self.elapsed:.1f}s] {self.message if message is None else message}"


ProgressCallback = Callable[[Progress], None]


class Reporter:
    """Numbers the stages so a client can draw a bar: connected 1, accepted 2, started 3,
    partial k at 3+k, rendered 4+P (the Responses API's image_generation_call.completed, when a relay
    sends it), final 5+P, saved 6+P, where P is the number of partial images asked for."""

    def __init__(self, callback: ProgressCallback | None, partials: int, started: float | None = None) -> None:
        self._callback = callback
        self._partials = partials
        self._started = time.monotonic() if started is None else started
        self.step = 0
        self.total = 6 + partials
        self.last_time = self._started

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def emit(self, stage: str, message: str, *, partial: int = 0, path: str | None = None,
             task: str | None = None) -> None:
        steps = {"connected": 1, "accepted": 2, "started": 3, "partial": 3 + partial,
                 "rendered": 4 + self._partials, "final": 5 + self._partials, "saved": 6 + self._partials}
        if stage in steps:
            self.step = max(self.step, min(steps[stage], self.total))
        self.last_time = time.monotonic()
        if self._callback is not None:
            self._callback(Progress(stage, message, round(self.elapsed(), 1), self.step, self.total, path, task))


class Heartbeat:
    """While the relay is silent (a whole JSON answer being prepared), say so every ``every`` seconds."""

    def __init__(self, reporter: Reporter, every: float = 10.0) -> None:
        self._reporter, self._every = reporter, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="image-relay-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while not self._stop.wait(max(0.1, self._every - (time.monotonic() - self._reporter.last_time))):
            if time.monotonic() - self._reporter.last_time >= self._every:
                self._reporter.emit("waiting", f"Waiting for the relay's answer ({self._reporter.elapsed():.0f} s so far).")

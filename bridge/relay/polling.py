"""Following a relay's async task to its image: poll, wait as told, stop at the deadline.

The task is asked about with the style's ``GET`` (``Style.poll``) until an answer carries the image
(saved by the receiver as any answer's image is) or says the task failed. Between polls the bridge
waits what the relay's ``Retry-After`` says (at least 0.2 s, at most a minute), else 1, 2, 3, then
every 5 s; never past the job's total time-out. The relay's own progress is shown as the relay's.

A poll is a ``GET`` that generates nothing, so a poll that fails on the way (connection, 5xx, 429)
is simply asked again, a few times; the request that made the task is never sent again. A run
that stops while the task runs (Ctrl-C, the time-out, a stopped job) ends with an error that names
the task, so its image can still be fetched without a new generation: ``image-relay-generate
--task TASK_ID``, or the MCP job's ``job_id``.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import BridgeError, Cancelled, NetworkError, RelayFailure, RelayRejected, RequestTimeout
from ..i18n import N_
from .tasks import Task
from .transport import CancelToken, retry_after

STEPS = (1.0, 2.0, 3.0, 5.0)  # waits between polls when the relay gives no Retry-After
MIN_WAIT, MAX_WAIT = 0.2, 60.0
MAX_FAILED_POLLS = 5  # polls in a row that fail on the way before the run gives up (the task is named)
SAY_EVERY = 10.0  # a progress line at least this often while the relay's account does not change


def fetch_hint(task_id: str) -> str:
    return N_(f"The relay may still finish the image as task {task_id}: fetch it without a new generation with "
              f"image-relay-generate --task {task_id} (for a job of the MCP server, call generate_image with its "
              "job_id).")


def follow(task: Task, style, exchange: Callable, reporter, rawlog, cancel: CancelToken, deadline: float,
           *, first_wait: float | None = None, hint: float | None = None):
    """Poll ``task`` until its image is saved; returns the receiver of the answer that carried it.
    ``exchange(call)`` sends one request and reads its answer into a new receiver; ``hint`` is the
    Retry-After of the answer that gave the task, ``first_wait`` a wait of the caller's own."""
    call = style.poll(task.id)
    rawlog.note(f"task {task.id} ({task.status or 'accepted'})")
    reporter.emit("accepted", f"The relay accepted the job as task {task.id}; asking it for the image until it is "
                              "done.", task=task.id)
    said, said_at = task.said(), time.monotonic()
    wait = first_wait if first_wait is not None else _between(hint, 0)
    polls = failed = 0
    while True:
        _pause(wait, task, cancel, deadline)
        try:
            receiver = exchange(call)
        except Cancelled as error:
            raise _fetchable(error, task) from None
        except BridgeError as error:
            if error.code == "deadline":
                raise _fetchable(error, task) from None
            if error.status_code in (404, 410):
                raise RelayRejected(f"The relay does not know task {task.id} (HTTP {error.status_code}): it may have "
                                    "expired, or belong to another relay. Nothing new was generated.",
                                    code="task_not_found", status_code=error.status_code) from None
            if not _passing(error):
                raise  # the relay said the task failed, or its image could not be used: that is the error
            failed += 1
            if failed >= MAX_FAILED_POLLS:
                raise _fetchable(error, task, failed) from None
            wait = _between(error.retry_after, polls)
            reporter.emit("polling", f"Asking the relay about task {task.id} failed ({error.message}); asking again "
                                     f"in {wait:.1f} s.", task=task.id)
            continue
        polls, failed = polls + 1, 0
        if receiver.task is None:
            return receiver  # the answer held the image, saved by now
        task = receiver.task
        wait = _between(retry_after(receiver.headers), polls)
        if task.said() != said or time.monotonic() - said_at >= SAY_EVERY:
            said, said_at = task.said(), time.monotonic()
            rawlog.note(f"task {task.id}: {said}")
            reporter.emit("polling", said, task=task.id)


def _pause(wait: float, task: Task, cancel: CancelToken, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0.5:
        raise _fetchable(RequestTimeout("The job passed its total time limit (IMAGE_RELAY_TIMEOUT) while the relay was "
                                        "still making the image.", code="deadline"), task)
    if cancel._event.wait(min(wait, remaining - 0.5)):
        raise _fetchable(Cancelled("The image job was cancelled while the relay was still making the image."), task)


def _between(hint: float | None, polls: int) -> float:
    if hint is not None:
        return min(MAX_WAIT, max(MIN_WAIT, hint))
    return STEPS[min(polls, len(STEPS) - 1)]


def _passing(error: BridgeError) -> bool:
    """A poll that failed on the way, worth asking again (a poll bills nothing)."""
    if isinstance(error, NetworkError):
        return True
    status = error.status_code or 0
    return status == 429 or (isinstance(error, RelayFailure) and (status in (500, 502, 503, 504) or status >= 520))


def _fetchable(error: BridgeError, task: Task, failed: int = 0) -> BridgeError:
    """The run stopped, but the relay's task may finish: the error names it (and never re-sends)."""
    if failed:
        error.message = f"Asking the relay about task {task.id} failed {failed} time(s) in a row: {error.message}"
    error.message = f"{error.message} {fetch_hint(task.id)}"
    error.task_id = task.id
    error.stream_started = True  # the task is accepted: may be billed, never replayed
    return error

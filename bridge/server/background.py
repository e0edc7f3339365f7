"""Generations as jobs that outlive the tool call that started them. No MCP here.

A paid image is never lost to a client's time limit: a job's work runs beside the call (in the
server, a thread that follows the job's worker process, ``runner``), a call waits for it up to a
budget, and a call that is cancelled or gives up leaves the job running to its end. Jobs are
recorded on disk (small JSON, never a secret) in the user's job folder, so any later server of
the same user reports them: one whose server died while its worker ran on is adopted (followed
to its end), one whose worker finished is reported as finished, and only a job whose worker is
gone without a result is reported as lost, with its best partial image if one was saved — unless
the relay had answered with an async task: such a job is resumed by polling its task (a new worker,
``runner.resume``), never by generating again, and so is a job that stopped while polling (its
time-out, a cancelled call) when a call names its ``job_id``.
"""
from __future__ import annotations

import contextvars
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..progress import Progress
from ..result import GenerationResult, markdown_image
from ..system.detach import CONTAINED
from ..system.files import replace
from ..system.processes import is_alive

KEEP_SECONDS = 7 * 24 * 3600  # records older than a week are pruned
JOIN_SECONDS = 3600  # an identical call joins a finished job whose result nobody received, this long after its end
_RECORD = re.compile(r"^job_[0-9a-f]+\.json$")
FINISHING_GRACE = 10.0  # past the budget, a job whose final image is in still gets this long to finish
Work = Callable[["Job"], GenerationResult]
# Which face starts the jobs of this call (the history records it): the card sets "card" around its calls.
FACE: contextvars.ContextVar[str] = contextvars.ContextVar("image_job_face", default="mcp")


@dataclass
class Job:
    """One generation. ``progress`` grows as events arrive; ``result`` is set once, at the end."""

    id: str
    prompt: str
    started: float = field(default_factory=time.time)
    progress: list[Progress] = field(default_factory=list)
    result: GenerationResult | None = None
    done: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0  # calls waiting for it right now
    dropped: bool = False  # its call was cancelled before it had a slot: it never runs
    reported: bool = False  # a call has returned its outcome
    cancel: object | None = None  # the CancelToken the work polls
    owner: str | None = None  # the authenticated caller of a shared server (auth.owner_of); None: local
    face: str = "mcp"  # who started it, for the history: mcp, card or library

    partial_paths: list[str] = field(default_factory=list)
    persist: Callable[[], None] | None = None  # rewrites the job's record
    key: str | None = None  # what an identical call matches (``matching``)
    worker: int | None = None  # the process that runs the generation
    worker_start: str | None = None  # how it was started (system.detach): "contained" ends with the client's job
    deadline: float | None = None  # when a silent worker is given up on
    finished: float | None = None
    shown: set[str] = field(default_factory=set)  # saved images a call or notice already named
    watched_until: float = 0.0  # a client polls it as an MCP task until then (``tasks``): no notice names it
    relay_task: str | None = None  # the relay's async task, once it answered one (from the worker's progress)
    order: dict | None = None  # what resuming the task needs (``runner``): output folders, the relay's hash
    resumes: int = 0  # times its task was taken up again by a new worker

    @property
    def saved(self) -> list[str]:
        """Final images the worker has saved and checked so far (the relay may still be talking)."""
        return [p.path for p in self.progress if p.stage == "saved" and p.path]

    def on_progress(self, progress: Progress) -> None:
        """The work's progress callback (runs in the job's thread)."""
        self.progress.append(progress)
        if progress.task and progress.task != self.relay_task:
            self.relay_task = progress.task
            if self.persist is not None:
                self.persist()  # a job whose worker dies while polling is resumed from its record
        if progress.stage == "partial" and progress.path:
            self.partial_paths.append(progress.path)
            if self.persist is not None:
                self.persist()  # a lost job still points at its best partial

    @property
    def finishing(self) -> bool:
        """The final image is received or saved; only the result is left to make."""
        return bool(self.progress) and self.progress[-1].stage in ("final", "saved")

    @property
    def dies_with_client(self) -> bool:
        """Its worker could not leave the job object the client keeps this server in."""
        return self.worker_start == CONTAINED

    @property
    def last_event(self) -> str:
        return self.progress[-1].message if self.progress else "Sending the request to the relay."

    def elapsed(self) -> float:
        return time.time() - self.started

    def let_go(self, stop: bool) -> None:
        """Whoever waited for it gave up: a job still in line is dropped (nothing was sent, so nothing is
        lost by not sending it); ``stop`` also stops one that runs."""
        if not any(p.stage != "waiting" for p in self.progress):
            self.dropped = True
        if stop and self.cancel is not None:
            self.cancel.cancel()


class Jobs:
    """The jobs of one server: started here, or recorded on disk by this or an earlier server."""

    def __init__(self, state_dir: Path, max_jobs: int = 4, resume: Callable | None = None) -> None:
        self.dir = state_dir
        self.resume = resume  # resume(job, folder) -> GenerationResult: polls a job's task in a new worker
        self.max_jobs = max_jobs  # jobs that talk to the relay at once; the rest wait in order
        self._jobs: dict[str, Job] = {}
        self._announced: set[str] = set()  # running jobs already named in a notice
        self._lock = threading.Lock()
        self._admission = threading.Lock()
        self._foreign: dict[str, dict] = {}  # unreported records of servers that are gone
        self._slots = threading.Condition()
        self._queue: list[Job] = []
        self._running = 0
        self._mark_lost_and_prune()

    def start(self, prompt: str, work: Work, cancel: object | None = None, owner: str | None = None, *,
              key: str | None = None, face: str | None = None) -> Job:
        """Run ``work`` in a thread of its own; ``cancel`` (a CancelToken) is what stops it."""
        job = Job(id="job_" + secrets.token_hex(6), prompt=prompt[:120], cancel=cancel, owner=owner, key=key,
                  face=face or FACE.get())
        with self._lock:
            self._jobs[job.id] = job
        job.persist = lambda: self._write(job, "running")
        job.persist()

        def run() -> None:
            try:
                if not self._take_slot(job):
                    job.result = GenerationResult(ok=False, elapsed_seconds=round(job.elapsed(), 2), error={
                        "code": "interrupted", "message": "The call was cancelled while the job waited for a free slot; "
                        "nothing was sent.", "retryable": False}, exit_code=130)
                    return
                try:
                    job.result = work(job)
                finally:
                    self._free_slot()
            except BaseException as exc:  # noqa: BLE001 - a job must always end with a result
                job.result = GenerationResult(ok=False, elapsed_seconds=round(job.elapsed(), 2), error={
                    "code": "internal_error", "message": f"The job failed unexpectedly ({exc.__class__.__name__}).",
                    "retryable": False}, exit_code=1)

        return self._run(job, run)

    def _run(self, job: Job, body) -> Job:
        """Run ``body`` in a thread of its own; however it ends, the job is then recorded as done."""
        def run() -> None:
            try:
                body()
            finally:
                job.finished = time.time()
                self._write(job, "done")
                job.done.set()

        threading.Thread(target=run, name=f"image-job-{job.id}", daemon=True).start()
        return job

    def _adopt(self, record: dict) -> Job:
        """Follow a job whose worker runs on after its server stopped (or runs in another server)."""
        from .runner import follow
        with self._lock:
            if record["id"] in self._jobs:
                return self._jobs[record["id"]]
            job = Job(id=record["id"], prompt=record.get("prompt", ""), started=record.get("started", time.time()),
                      key=record.get("key"), owner=record.get("owner"), worker=record.get("worker"),
                      worker_start=record.get("worker_start"), deadline=record.get("deadline"),
                      relay_task=record.get("relay_task"), order=record.get("order"),
                      resumes=record.get("resumes", 0))  # its partials come back as its events are replayed
            self._jobs[job.id] = job
        job.persist = lambda: self._write(job, "running")

        def run() -> None:
            job.result = follow(job, self.dir, alive=lambda: is_alive(job.worker))

        return self._run(job, run)

    def _take_slot(self, job: Job) -> bool:
        """Wait in line for a free slot, saying how many are ahead; False when the job was dropped."""
        shown = None
        with self._slots:
            self._queue.append(job)
            try:
                while not job.dropped and not (self._running < self.max_jobs and self._queue[0] is job):
                    ahead = self._queue.index(job)
                    if ahead != shown:
                        shown = ahead
                        job.on_progress(Progress("waiting", f"Waiting for a free slot, {ahead} ahead "
                                                 f"({self.max_jobs} images at a time).", round(job.elapsed(), 1), 0, 0))
                    self._slots.wait(0.2)
                if job.dropped:
                    return False
                self._running += 1
                return True
            finally:
                self._queue.remove(job)
                self._slots.notify_all()

    def _free_slot(self) -> None:
        with self._slots:
            self._running -= 1
            self._slots.notify_all()

    def get(self, job_id: str, owner: str | None = None) -> Job | dict | None:
        """``owner``'s job this server follows, else one it adopts, else its record on disk (a dict),
        else None: another caller's job is as unknown as one that never was."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            return job if job.owner == owner else None
        if not re.fullmatch(r"job_[0-9a-f]+", job_id):
            return None  # never a path
        record = self._read(self.dir / f"{job_id}.json")
        return self._settle(record) if record is not None and record.get("owner") == owner else None

    def join_or_start(self, key: str, owner: str | None, *, admit: Callable[[int], str | None],
                      start: Callable[[], Job]) -> tuple[Job | dict, bool]:
        """The job an identical call joins (and True), else a new one from ``start`` when ``admit``
        (given how many of the owner's jobs run) lets it: one step per server, so calls sent at once
        cannot all pass admission before any job exists. Raises LimitReached with ``admit``'s reason."""
        from ..errors import LimitReached
        with self._admission:
            found = self.find(key, owner)
            if found is not None:
                return found, True
            refused = admit(self.running(owner))
            if refused:
                raise LimitReached(refused)
            return start(), False

    def delivered(self, job: Job, result: GenerationResult) -> None:
        """A call returned ``result`` for ``job``: once the job has ended, nobody needs to hear of it again."""
        if job.done.is_set():
            self.mark_reported(job.id)
        else:
            job.shown.update(result.image_paths)

    def running(self, owner: str | None) -> int:
        """How many of ``owner``'s jobs have not ended."""
        with self._lock:
            return sum(1 for job in self._jobs.values() if job.owner == owner and not job.done.is_set())

    def find(self, key: str, owner: str | None = None) -> Job | dict | None:
        """The job an identical call joins: the owner's job with this key that is still running, or
        that finished (within JOIN_SECONDS) with an outcome no call has received; this server's, or
        any other server's of the same user, read from the job folder."""
        now = time.time()
        with self._lock:
            live = sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)
        for job in live:
            if job.key != key or job.owner != owner or job.dropped:
                continue
            if not job.done.is_set():
                return job
            if not job.reported and not self._claimed(job.id) and now - (job.finished or now) < JOIN_SECONDS \
                    and _joinable(job.result):
                return job
        for path in self._records(since=now - JOIN_SECONDS - KEEP_RUNNING_SECONDS):
            record = self._read(path)
            if record is None or record.get("key") != key or record.get("owner") != owner:
                continue
            if record["id"] in self._jobs or record.get("reported") or self._claimed(record["id"]):
                continue
            found = self._settle(record)
            if isinstance(found, Job):
                return found
            if found.get("status") == "done" and now - found.get("finished", 0) < JOIN_SECONDS \
                    and (found.get("ok") or (found.get("error") or {}).get("code") not in _NOT_JOINED):
                return found
        return None

    def _settle(self, record: dict) -> Job | dict:
        """What a record on disk stands for now: a finished job (its worker's result), a running one
        (adopted, so this server follows it), one still queued in a live server, or a lost one."""
        from .worker import read_result
        if record.get("status") != "running":
            return record
        result = read_result(self.dir, record["id"])
        if result is not None:
            record = {**record, **_result_fields(result), "status": "done"}
            record.setdefault("finished", round(time.time(), 3))
            self._dump(record)
            return record
        if record.get("worker") and is_alive(record["worker"]) \
                and time.time() < (record.get("deadline") or float("inf")):
            return self._adopt(record)
        if not record.get("worker") and is_alive(record.get("pid")):
            return record  # waiting for a slot in a live server: that server runs it
        revived = self.revive(record)
        if revived is not record:
            return revived  # its worker died while the relay's task ran: polled again, not generated again
        record["status"] = "lost"
        self._dump(record)
        return record

    def revive(self, found: Job | dict) -> Job | dict:
        """A job that stopped while the relay's task ran (its worker died, its time-out passed, its call
        was cancelled), taken up again by polling the task in a new worker; anything else as it was."""
        record = found if isinstance(found, dict) else self._record(found, "done" if found.done.is_set() else "running")
        if isinstance(found, Job) and not found.done.is_set():
            return found
        error = record.get("error") or {}
        stopped = record.get("status") == "running" or (not record.get("ok") and error.get("task_id")
                                                         and error.get("code") in RESUMABLE)
        task = error.get("task_id") or record.get("relay_task") or _task_in_events(self.dir, record["id"])
        if not (stopped and task and record.get("order") and self.resume is not None) \
                or record.get("resumes", 0) >= MAX_RESUMES:
            return found
        job = Job(id=record["id"], prompt=record.get("prompt", ""), started=time.time(), key=record.get("key"),
                  owner=record.get("owner"), relay_task=task, order=record["order"], resumes=record.get("resumes", 0))
        with self._lock:
            self._jobs[job.id] = job
        job.persist = lambda: self._write(job, "running")
        job.persist()

        def run() -> None:
            job.result = self.resume(job, self.dir)

        return self._run(job, run)

    def mark_reported(self, job_id: str) -> None:
        try:  # one marker per job, whichever server reports it: no later server reports it again
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / f"{job_id}.reported").touch()
        except OSError:
            pass
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.reported = True
            if job_id in self._foreign:
                self._foreign.pop(job_id)["reported"] = True
        record = self._read(self.dir / f"{job_id}.json")
        if record is not None:
            record["reported"] = True
            self._dump(record)

    def unreported(self, owner: str | None = None) -> list[dict]:
        """``owner``'s jobs nobody is waiting for whose outcome no call has reported: finished or lost ones
        (this server's, and those of servers that are gone), and, once, this server's jobs still
        running after their call was cancelled or gave up, so the model learns their id."""
        out = []
        with self._lock:
            live = sorted(self._jobs.values(), key=lambda j: j.started)
            foreign = list(self._foreign.values())
        for record in foreign:
            if not record.get("reported") and record.get("owner") == owner and not self._claimed(record["id"]):
                out.append(record)
        for job in live:
            if job.owner != owner or job.reported or job.waiters or job.watched_until > time.time() \
                    or (job.done.is_set() and self._claimed(job.id)):
                continue
            if not job.done.is_set():
                fresh = [p for p in job.saved if p not in job.shown]
                if fresh:  # the image is paid for and saved: that is what the user gets, stream closed or not
                    job.shown.update(fresh)
                    self._announced.add(job.id)
                    out.append({**self._record(job, "running"), "status": "saved", "image_paths": fresh})
                elif job.id not in self._announced:
                    self._announced.add(job.id)
                    out.append(self._record(job, "running"))
                continue
            result = job.result
            if result is not None and result.ok and job.shown and set(result.image_paths) <= job.shown:
                self.mark_reported(job.id)  # every image it made was named already
                continue
            out.append(self._record(job, "done"))
        return out

    # -- records ----------------------------------------------------------------------------

    def _write(self, job: Job, status: str) -> None:
        self._dump(self._record(job, status))

    def _record(self, job: Job, status: str) -> dict:
        record = {"id": job.id, "status": status, "pid": os.getpid(), "started": round(job.started, 3),
                  "prompt": job.prompt, "reported": job.reported, "partial_image_paths": list(job.partial_paths),
                  "key": job.key, "worker": job.worker, "worker_start": job.worker_start,
                  "deadline": job.deadline}
        if job.relay_task is not None:
            record.update(relay_task=job.relay_task, order=job.order, resumes=job.resumes)
        elif job.order is not None:
            record["order"] = job.order
        if job.owner is not None:
            record["owner"] = job.owner
        if job.result is not None:
            record.update(_result_fields(job.result), finished=round(job.finished or time.time(), 3))
        return record

    def _claimed(self, job_id: str) -> bool:
        return (self.dir / f"{job_id}.reported").exists()

    def _dump(self, record: dict) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / f".{record['id']}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            replace(tmp, self.dir / f"{record['id']}.json")
        except OSError:
            pass  # the record is a convenience; the image itself is already on disk

    def _read(self, path: Path) -> dict | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and "id" in record else None

    def _records(self, since: float = 0.0) -> list[Path]:
        """Job records, only those written since ``since`` when given (a record is rewritten as its job runs)."""
        try:
            entries = list(os.scandir(self.dir))
        except OSError:
            return []
        out = []
        for entry in entries:
            try:
                if _RECORD.match(entry.name) and (not since or entry.stat().st_mtime >= since):
                    out.append(Path(entry.path))
            except OSError:
                continue
        return out

    def _mark_lost_and_prune(self) -> None:
        """Read the records once, at start: jobs of servers that are gone become this server's to
        report (a running one is lost); older than a week, records go."""
        now = time.time()
        for path in self._records():
            record = self._read(path)
            if record is None:
                continue
            if now - record.get("started", now) > KEEP_SECONDS:
                for name in (f"{record['id']}{suffix}" for suffix in (".json", ".events", ".result", ".reported")):
                    (self.dir / name).unlink(missing_ok=True)
                continue
            if record.get("reported") or self._claimed(record["id"]):
                continue
            ours = record.get("pid") == os.getpid()  # an earlier Jobs of this very process
            if (ours and record.get("status") == "running") or (not ours and is_alive(record.get("pid"))):
                continue  # a live server's job: it reports it itself
            settled = self._settle(record)
            if isinstance(settled, dict):
                self._foreign[record["id"]] = settled


_NOT_JOINED = ("lost", "interrupted")  # an identical call starts afresh after these
# A job that ended with one of these while the relay's task ran is taken up again by a call naming it.
RESUMABLE = ("deadline", "timeout", "idle_timeout", "interrupted", "lost", "cannot_connect", "connection_broken",
             "connection_closed", "relay_error", "rate_limited")
MAX_RESUMES = 3  # a worker that keeps dying is not started again and again


def _task_in_events(folder: Path, job_id: str) -> str | None:
    """The relay's task a job's worker named in its progress (for a job whose server died before it
    recorded it): the last one in its events file, read to at most 1 MiB."""
    try:
        with open(folder / f"{job_id}.events", "rb") as handle:
            lines = handle.read(1 << 20).splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            task = json.loads(line).get("task")
        except (ValueError, AttributeError):
            continue
        if isinstance(task, str) and task:
            return task
    return None


KEEP_RUNNING_SECONDS = 3600  # a running job's record is rewritten at least at its start; jobs end within this


def _joinable(result: GenerationResult | None) -> bool:
    return result is not None and (result.ok or (result.error or {}).get("code") not in _NOT_JOINED)


def _result_fields(result: GenerationResult) -> dict:
    return dict(ok=result.ok, image_paths=list(result.image_paths), partial_image_paths=list(result.partial_image_paths),
                alt_text=result.alt_text, error=result.error, actual_size=result.actual_size,
                output_format=result.output_format, bytes=result.bytes, elapsed_seconds=result.elapsed_seconds,
                response_ids=dict(result.response_ids), usage=result.usage)


def saved_result(job: Job) -> GenerationResult | None:
    """The result a running job already has: the final images its worker saved and checked while the
    relay's answer is still open (or was never closed). None when no final image is saved yet."""
    from ..images.sniff import read_info
    paths = [p for p in job.saved if Path(p).is_file()]
    if not paths:
        return None
    info = read_info(Path(paths[0]).read_bytes())
    return GenerationResult(
        ok=True, complete=True, elapsed_seconds=round(job.elapsed(), 2), image_paths=tuple(paths),
        alt_text=job.prompt or "image", actual_size=info.size if info else None,
        output_format=info.format if info else None, bytes=Path(paths[0]).stat().st_size,
        partial_image_paths=tuple(job.partial_paths),
        warnings=("The relay has not closed its answer yet; the image above is saved and checked, and is the one "
                  "the relay billed.",))


def record_tags(record: dict, link: Callable[[str], str] | None = None) -> list[str]:
    """Markdown tags of what a record's job saved: its images, else its best partial (``link``: a
    remote caller's download link instead of the path)."""
    alt = record.get("alt_text") or record.get("prompt") or "image"
    paths = record.get("image_paths") or record.get("partial_image_paths", [])[-1:]
    return [markdown_image(link(p), alt, windows=False) if link else markdown_image(p, alt)
            for p in paths if Path(p).is_file()]


async def wait(job: Job, budget: float, *, sleep: Callable, forward: Callable | None = None,
               stop_on_cancel: bool = False, poll: float = 0.05) -> bool:
    """Wait up to ``budget`` seconds for ``job``, passing each new Progress to ``forward``.

    True when the job is done. A waiter that is cancelled (the client gave up or cancelled the
    call) leaves the job running, unless ``stop_on_cancel``. ``sleep`` is the event loop's own
    (anyio.sleep, asyncio.sleep), so this module needs no async library of its own.
    """
    job.waiters += 1
    seen = 0  # each call's progress starts at the job's beginning: a new progress token, the whole story
    deadline = time.monotonic() + budget
    try:
        while True:
            while seen < len(job.progress):
                if forward is not None:
                    await forward(job.progress[seen])
                seen += 1
            if job.done.is_set():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 and job.finishing and remaining > -FINISHING_GRACE:
                remaining = poll  # its images are saved: the result is moments away, never "still generating"
            if remaining <= 0:
                return job.done.is_set()
            await sleep(min(poll, remaining))
    except BaseException:
        job.let_go(stop_on_cancel)
        raise
    finally:
        job.waiters -= 1

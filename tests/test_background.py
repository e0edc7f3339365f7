"""Jobs, the wait budget and cancellation, without MCP: plain threads and asyncio."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import pytest

from bridge.server.background import Jobs, wait
from bridge.progress import Progress
from bridge.result import GenerationResult
from bridge.relay.transport import CancelToken


def _work(gate: threading.Event, ok: bool = True, path: str = "/nonexistent/x.png"):
    def work(job):
        job.on_progress(Progress("connected", "Connected; the relay answered HTTP 200.", 0.1, 1, 5))
        gate.wait(10)
        job.on_progress(Progress("saved", f"Saved {path}.", 1.0, 5, 5, path))
        if ok:
            return GenerationResult(ok=True, elapsed_seconds=1.0, complete=True, image_paths=(path,), alt_text="a fox",
                                    actual_size="8x8", output_format="png", bytes=10)
        return GenerationResult(ok=False, elapsed_seconds=1.0, error={"code": "relay_error", "message": "boom"},
                                exit_code=5)
    return work


def test_budget_then_done(tmp_path):
    jobs = Jobs(tmp_path)
    gate = threading.Event()
    job = jobs.start("a fox", _work(gate))
    seen = []

    async def forward(progress):
        seen.append(progress.stage)

    assert asyncio.run(wait(job, 0.3, sleep=asyncio.sleep, forward=forward)) is False
    assert seen == ["connected"] and "Connected" in job.last_event and job.waiters == 0
    gate.set()
    assert asyncio.run(wait(job, 5, sleep=asyncio.sleep, forward=forward)) is True
    assert job.result.ok and seen == ["connected", "connected", "saved"]  # each waiter gets the whole story
    record = json.loads((tmp_path / f"{job.id}.json").read_text(encoding="utf-8"))
    assert record["status"] == "done" and record["ok"] and record["image_paths"] == ["/nonexistent/x.png"]


@pytest.mark.parametrize("stop_on_cancel", [False, True])
def test_a_cancelled_waiter_leaves_the_job_running_unless_asked(tmp_path, stop_on_cancel):
    jobs = Jobs(tmp_path)
    gate = threading.Event()
    cancel = CancelToken()
    job = jobs.start("a fox", _work(gate), cancel=cancel)

    async def main():
        task = asyncio.create_task(wait(job, 30, sleep=asyncio.sleep, stop_on_cancel=stop_on_cancel))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cancel.cancelled is stop_on_cancel and job.waiters == 0
    gate.set()
    assert job.done.wait(5) and job.result.ok


def test_unreported_outcomes_are_reported_once(tmp_path):
    jobs = Jobs(tmp_path)
    gate = threading.Event()
    gate.set()
    job = jobs.start("a fox", _work(gate, ok=False))
    assert job.done.wait(5)
    assert [r["id"] for r in jobs.unreported()] == [job.id]
    jobs.mark_reported(job.id)
    assert jobs.unreported() == []
    assert Jobs(tmp_path).unreported() == []  # nor by the next server


def test_a_new_server_marks_dead_servers_running_jobs_lost(tmp_path):
    other_server = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    (tmp_path / "job_aaaaaaaaaaaa.json").write_text(json.dumps(
        {"id": "job_aaaaaaaaaaaa", "status": "running", "pid": 2 ** 22 + 777, "started": time.time()}), encoding="utf-8")
    (tmp_path / "job_bbbbbbbbbbbb.json").write_text(json.dumps(  # alive: not ours to judge
        {"id": "job_bbbbbbbbbbbb", "status": "running", "pid": other_server.pid, "started": time.time()}), encoding="utf-8")
    (tmp_path / "job_cccccccccccc.json").write_text(json.dumps(
        {"id": "job_cccccccccccc", "status": "done", "ok": True, "started": time.time() - 8 * 24 * 3600}), encoding="utf-8")
    try:
        jobs = Jobs(tmp_path)
        assert jobs.get("job_bbbbbbbbbbbb")["status"] == "running"  # asked while its server lives
    finally:
        other_server.communicate(b"", timeout=30)
    assert jobs.get("job_aaaaaaaaaaaa")["status"] == "lost"
    assert not (tmp_path / "job_cccccccccccc.json").exists()  # pruned after a week
    assert [r["id"] for r in jobs.unreported()] == ["job_aaaaaaaaaaaa"]


def test_ids_never_become_paths(tmp_path):
    jobs = Jobs(tmp_path)
    assert jobs.get("../secret") is None and jobs.get("job_../../x") is None


def test_a_crashing_job_still_ends_with_a_result(tmp_path):
    def work(job):
        raise RuntimeError("bug")
    job = Jobs(tmp_path).start("x", work)
    assert job.done.wait(5) and job.result.ok is False and job.result.error["code"] == "internal_error"


def test_jobs_beyond_the_limit_wait_in_line_and_say_so(tmp_path):
    jobs = Jobs(tmp_path, max_jobs=1)
    gates = [threading.Event() for _ in range(3)]
    started = []

    def work_for(i):
        def work(job):
            started.append(i)
            gates[i].wait(10)
            return GenerationResult(ok=True, elapsed_seconds=0.1, complete=True)
        return work

    first = jobs.start("one", work_for(0))
    time.sleep(0.2)
    second, third = jobs.start("two", work_for(1)), jobs.start("three", work_for(2))
    time.sleep(0.5)
    assert started == [0]
    assert "Waiting for a free slot, 0 ahead" in second.last_event and "1 ahead" in third.progress[0].message
    gates[0].set()
    assert second.done.wait(0.1) is False
    time.sleep(0.5)
    assert started == [0, 1] and "0 ahead" in third.last_event
    gates[1].set()
    gates[2].set()
    assert third.done.wait(5) and all(j.result.ok for j in (first, second, third))


def test_a_call_cancelled_while_its_job_waits_sends_nothing(tmp_path):
    jobs = Jobs(tmp_path, max_jobs=1)
    gate = threading.Event()
    calls = []

    def work(job):
        calls.append(job.id)
        gate.wait(10)
        return GenerationResult(ok=True, elapsed_seconds=0.1, complete=True)

    jobs.start("busy", work)
    time.sleep(0.2)
    queued = jobs.start("queued", work)

    async def main():
        task = asyncio.create_task(wait(queued, 30, sleep=asyncio.sleep))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    gate.set()
    assert queued.done.wait(5) and queued.result.error["code"] == "interrupted" and len(calls) == 1


def test_a_job_whose_image_is_saved_is_never_reported_as_pending(tmp_path):
    from bridge.server.replies import pending_text
    jobs = Jobs(tmp_path)
    saved = threading.Event()

    def work(job):
        job.on_progress(Progress("connected", "Connected; the relay answered HTTP 200.", 0.1, 1, 5))
        saved.wait(10)
        job.on_progress(Progress("saved", "Saved /x/y.png.", 1.0, 5, 5, "/x/y.png"))
        time.sleep(0.8)  # the result is still being put together
        return GenerationResult(ok=True, elapsed_seconds=1.0, complete=True, image_paths=("/x/y.png",))

    job = jobs.start("a fox", work)
    assert asyncio.run(wait(job, 0.2, sleep=asyncio.sleep)) is False
    text = pending_text(job)
    assert job.id in text and "s so far" in text and "Connected; the relay answered HTTP 200." in text
    saved.set()
    time.sleep(0.2)
    assert asyncio.run(wait(job, 0.1, sleep=asyncio.sleep)) is True and job.result.ok

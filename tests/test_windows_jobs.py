"""On Windows a job's worker outlives the job object its client keeps the server in, and where it
cannot, the model is told that closing the client would lose the image.

The official client's own job (KILL_ON_JOB_CLOSE only, as Codex and Copilot CLI make theirs) is
used as it is; for the Node and Bun clients' case its job gets libuv's flags. The client closes
mid-generation, which ends the server and closes its job; the emulator counts the requests that
reach the relay. The server runs as an interpreter of its own: a venv's redirector process would
put it in a job of its own inside the client's, and under Wine (unlike Windows) breaking away from
that inner job leaves the client's job too.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from bridge.result import markdown_image
from tests.test_jobs_outlive import finals, generations, jobs_dir, records, until
from tests.test_mcp import saved

pytestmark = [pytest.mark.skipif(sys.platform != "win32", reason="Windows only: job objects"),
              pytest.mark.anyio, pytest.mark.usefixtures("fresh_jobs")]
PROMPT = "a fox the client closed on"


def server(project: Path, **env) -> Client:
    sites = [p for p in sys.path if Path(p).name.lower() == "site-packages"]
    code = ("import site, sys; [site.addsitedir(p) for p in sys.argv[1:]]; del sys.argv[1:]; "
            "from bridge.server.app import main; sys.exit(main())")
    params = StdioServerParameters(command=sys._base_executable, args=["-c", code, *sites],
                                   env={**os.environ, **env}, cwd=str(project))
    return Client(params, read_timeout_seconds=120)


@pytest.fixture
def libuv_job(monkeypatch):
    from mcp.os.win32 import utilities
    from tests.winjobs import LIBUV_JOB, set_limits
    made = utilities._create_job_object

    def with_libuv_flags():
        job = made()
        set_limits(int(job), LIBUV_JOB)
        return job

    monkeypatch.setattr(utilities, "_create_job_object", with_libuv_flags)


async def close_mid_generation(project: Path, emulator, tag: str, **env) -> tuple[str, dict]:
    """One call through a client that closes while the relay is still streaming the image."""
    async with server(project, IMAGE_RELAY_BASE_URL=emulator.url(delay=1.0, tag=tag), IMAGE_RELAY_MCP_WAIT_SECONDS="1",
                      **env) as client:
        first = await client.call_tool("generate_image", {"prompt": PROMPT, "partial_images": 1})
        await until(lambda: generations(emulator, tag) == 1, 60)
        record = next(r for r in records() if r.get("worker"))
    # The client is gone: it ended the server and closed its job.
    assert not finals(project / "outputs"), "the image was done before the client closed: nothing was tested"
    return first.content[0].text, record


async def next_server_reports(project: Path, emulator, tag: str) -> str:
    async with server(project, IMAGE_RELAY_BASE_URL=emulator.url(tag=tag)) as client:
        nxt = await client.call_tool("generate_image", {"prompt": "the next picture"})
    assert nxt.is_error is False and saved(nxt)
    return nxt.content[0].text


@pytest.mark.parametrize("job", ["client job (0x2000)", "libuv job (0x3C00)"])
async def test_a_job_outlives_the_client_job_its_server_was_in(mcp_env, emulator, request, job):
    if "libuv" in job:
        request.getfixturevalue("libuv_job")
    tag = uuid.uuid4().hex[:8]
    pending, record = await close_mid_generation(mcp_env, emulator, tag)
    # libuv's job lets the worker break away; the other one does not, and a process outside it
    # starts the worker: the desktop shell (under Wine the only one, its WMI runs in the caller), or WMI.
    assert record["worker_start"] in (("breakaway",) if "libuv" in job else ("shell", "wmi")), record
    assert f'job_id="{record["id"]}"' in pending and "Warning" not in pending, pending
    image = (await until(lambda: finals(mcp_env / "outputs"), 90))[0]
    await until(lambda: (jobs_dir() / f"{record['id']}.result").exists(), 30)
    text = await next_server_reports(mcp_env, emulator, tag)
    assert (f"Earlier job {record['id']} (\"{PROMPT}\") finished after its call was cancelled or timed out: "
            f"{markdown_image(str(image), PROMPT)}") in text, text
    assert generations(emulator, tag) == 2  # the fox once, then the next picture


async def test_where_the_worker_cannot_leave_the_job_the_model_is_told_and_the_loss_is_reported(mcp_env, emulator):
    tag = uuid.uuid4().hex[:8]
    # No way out allowed: the worker stays in the client's job, as it would where neither the
    # desktop shell nor WMI may start programs.
    pending, record = await close_mid_generation(mcp_env, emulator, tag, IMAGE_RELAY_MCP_OUTSIDE_JOB="off")
    assert record["worker_start"] == "contained", record
    assert "Warning: this client runs the image server in a Windows job object" in pending, pending
    assert "closing the client (or restarting this server) now would lose the image" in pending
    await anyio.sleep(3)
    assert not finals(mcp_env / "outputs")  # the worker ended with the job
    text = await next_server_reports(mcp_env, emulator, tag)
    assert f"Earlier job {record['id']} (\"{PROMPT}\") was lost when its server stopped" in text, text
    assert generations(emulator, tag) == 2


PROBE = """
import ctypes, json, os, sys, time
from ctypes import wintypes
inside = wintypes.BOOL()
ctypes.windll.kernel32.IsProcessInJob(wintypes.HANDLE(-1), None, ctypes.byref(inside))
open(sys.argv[1] + ".tmp", "w").write(json.dumps([os.getpid(), bool(inside.value)]))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
for _ in range(300):  # alive until the asker has looked at it
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.1)
"""
ASK = """
import json, os, subprocess, sys, time
from bridge.system import outside, winjob
way, python, probe, report, seen, folder = sys.argv[1:]
pid = getattr(outside, "via_" + way)(python, subprocess.list2cmdline(["-I", probe, report, seen]), folder)
for _ in range(300):
    if os.path.exists(report):
        break
    time.sleep(0.1)
pid = pid or json.loads(open(report).read())[0]
open(seen, "w").write(json.dumps({"pid": pid, "in_job": winjob.in_job(pid), "asker_in_job": winjob.standing().in_job}))
"""


@pytest.mark.parametrize("way", ["shell", "wmi"])
def test_where_a_program_started_outside_lands_is_what_the_server_sees(tmp_path, way):
    """From inside a client's job, each way out starts a program that says whether it is in a job;
    the server's own check (winjob.in_job) must say the same. The desktop shell's program is outside;
    WMI's is outside on Windows (its provider host starts it) but inside under Wine, whose WMI runs
    in the caller and creates the program as the caller's child."""
    from bridge.system.detach import python
    from tests.winjobs import CLIENT_JOB, InJob, under_wine
    (tmp_path / "probe.py").write_text(PROBE, encoding="utf-8")
    (tmp_path / "ask.py").write_text(ASK, encoding="utf-8")
    report, seen = tmp_path / "report.json", tmp_path / "seen.json"
    asker = InJob([sys._base_executable, str(tmp_path / "ask.py"), way, python(), str(tmp_path / "probe.py"),
                   str(report), str(seen), str(tmp_path)], CLIENT_JOB,
                  env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    try:
        assert asker.proc.wait(90) == 0
    finally:
        asker.close()
    pid, really_in_job = json.loads(report.read_text())
    view = json.loads(seen.read_text())
    assert view["asker_in_job"] and view["pid"] == pid
    assert view["in_job"] == really_in_job
    assert really_in_job == (way == "wmi" and under_wine()), f"{way}: in a job: {really_in_job}; Wine: {under_wine()}"

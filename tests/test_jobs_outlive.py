"""Jobs that outlive their server, and re-sent calls that join them, through the official client.

Servers here are real stdio subprocesses that get killed, closed and restarted the way clients do
it; the emulator counts the generation requests that reach the relay.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from bridge.result import markdown_image
from bridge.server.app import server
from bridge.system.processes import is_alive
from tests.test_mcp import SilentRelay, saved

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fresh_jobs")]
# On Windows the official client keeps its server in a job object that forbids breaking away; the
# worker leaves it all the same (system/detach). Windows has no SIGKILL: TerminateProcess is SIGTERM there.
KILL = "SIGKILL" if sys.platform != "win32" else "SIGTERM"
posix_signal = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only: Windows has no SIGKILL (SIGTERM, "
                                  "which os.kill maps to TerminateProcess, is the same kill there)")
# Under Wine a server takes seconds to start and each of these tests starts several: where a Windows test of
# its own covers the case, the Windows run leaves the POSIX one out.
closed_by_windows_test = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only: on Windows "
                                            "tests/test_windows_jobs.py closes the client, and the job object it "
                                            "keeps the server in, mid-generation")


@pytest.fixture
def project(mcp_env):
    return mcp_env


def stdio(project: Path, **env) -> Client:
    """A server as a client starts one: its own process, talking over stdin and stdout."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "bridge.server.app"],
                                   env={**os.environ, **env}, cwd=str(project))
    return Client(params, read_timeout_seconds=60)


def call_aside(group, client, arguments: dict) -> list:
    """Start a generate_image call in ``group`` and return at once, while the test kills or gives up
    on its server; the call's answer, should one come, lands in the list returned."""
    answers = []

    async def call() -> None:
        try:
            answers.append(await client.call_tool("generate_image", arguments))
        except Exception:  # noqa: BLE001 - its server is killed or given up under it
            pass

    group.start_soon(call)
    return answers


def jobs_dir() -> Path:
    from bridge.paths import user_state_dir
    return user_state_dir() / "jobs"


def records() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(jobs_dir().glob("job_*.json")) if ".result" not in p.name]


def generations(emulator, tag: str) -> int:
    return len([r for r in emulator.requests if r.options.get("tag") == tag and r.method == "POST"])


def finals(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.png") if "-partial-" not in p.name] if folder.exists() else []


async def until(check, seconds: float = 20.0):
    with anyio.fail_after(seconds):
        while not (value := check()):
            await anyio.sleep(0.05)
    return value


def worker_running() -> dict | None:
    return next((r for r in records() if r.get("status") == "running" and r.get("worker")), None)


@pytest.mark.parametrize("how", [pytest.param("SIGKILL", marks=posix_signal), "SIGTERM",
                                 pytest.param("stdin closed", marks=closed_by_windows_test)])
async def test_a_job_outlives_its_killed_server_and_the_next_server_returns_it(project, emulator, monkeypatch, how):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.5, tag=tag))
    outputs = project / "outputs"
    t0 = time.monotonic()
    timeline = {}
    async with stdio(project) as client:
        async with anyio.create_task_group() as group:
            call_aside(group, client, {"prompt": "a dying server's fox", "partial_images": 1})
            record = await until(worker_running)
            await until(lambda: generations(emulator, tag) == 1)
            timeline["relay request"] = time.monotonic() - t0
            assert not finals(outputs)
            if how == "stdin closed":
                group.cancel_scope.cancel()
            else:
                os.kill(record["pid"], getattr(signal, how))
                timeline["server killed"] = time.monotonic() - t0
                group.cancel_scope.cancel()
    image = (await until(lambda: finals(outputs)))[0]
    timeline["image on disk"] = time.monotonic() - t0
    await until(lambda: not is_alive(record["pid"]), 10)  # the server itself is gone
    await until(lambda: (jobs_dir() / f"{record['id']}.result").exists())

    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))  # the next pictures come at once
    async with stdio(project) as client:  # the next server
        nxt = await client.call_tool("generate_image", {"prompt": "the next picture"})
        timeline["result seen"] = time.monotonic() - t0
        text = nxt.content[0].text
        shown = markdown_image(str(image), "a dying server's fox")
        assert (f"Earlier job {record['id']} (\"a dying server's fox\") finished after its call was cancelled or timed "
                f"out: {shown}") in text, text
        by_id = await client.call_tool("generate_image", {"prompt": "x", "job_id": record["id"]})
        later = await client.call_tool("generate_image", {"prompt": "and another"})
    assert by_id.is_error is False and saved(by_id) == [str(image)] and by_id.content[1].type == "image"
    assert "dying server" not in later.content[0].text  # reported once
    assert generations(emulator, tag) == 3  # the fox once, then the two new pictures
    print(f"\n{how}: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timeline.items()))


async def test_a_client_that_restarts_its_server_and_resends_pays_once(project, emulator, monkeypatch):
    """Qwen Code's way: past its timeout it restarts the server and sends the same call again, three times."""
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=1.0, tag=tag))  # about 7 s
    source = project / "in.png"
    from tests.images import png
    source.write_bytes(png(16, 16))
    arguments = {"prompt": "a re-sent heron", "image_paths": [str(source)], "size": "auto"}
    outcomes = []
    # Qwen Code gives up after minutes, long after the relay has the request: the first call is given up
    # once the relay has it (on a busy machine, or under Wine, a fixed time could end it before the worker
    # took its order, which leaves a job with nothing sent); each re-send is given up after 1.5 s.
    for attempt in range(4):  # the first call and three re-sends, each through a new server
        async with stdio(project) as client:
            if attempt == 0:
                async with anyio.create_task_group() as group:
                    answers = call_aside(group, client, arguments)
                    await until(lambda: generations(emulator, tag) == 1 or answers, 60)
                    group.cancel_scope.cancel()
                outcomes.extend(answers or [TimeoutError("given up once the relay had the request")])
                if answers:
                    break
                continue
            try:
                outcomes.append(await client.call_tool("generate_image", arguments,
                                                       read_timeout_seconds=None if attempt == 3 else 1.5))
                break
            except Exception as exc:  # noqa: BLE001 - the client's own timeout
                outcomes.append(exc)
    # Under Wine a server takes seconds to start, so the image is often done by the second re-send.
    assert all(isinstance(o, Exception) for o in outcomes[:-1]) and len(outcomes) >= (2 if sys.platform == "win32" else 3)
    last = outcomes[-1]
    assert last.is_error is False and last.content[0].text.startswith("![a re-sent heron](")
    assert re.search(r"This call repeats the one that started job job_[0-9a-f]+, started \d+ s ago: it joined",
                     last.content[0].text)
    assert generations(emulator, tag) == 1 and len(finals(project / "outputs")) == 1


async def test_identical_calls_join_while_running_and_start_afresh_after_delivery(project, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.3, tag=tag))
    results = []
    async with Client(server) as client:
        async def one():
            results.append(await client.call_tool("generate_image", {"prompt": "twice at once"}))
        async with anyio.create_task_group() as group:
            group.start_soon(one)
            await anyio.sleep(0.3)
            group.start_soon(one)
        assert generations(emulator, tag) == 1
        assert saved(results[0]) == saved(results[1])
        assert sum("joined that job" in r.content[0].text for r in results) == 1
        again = await client.call_tool("generate_image", {"prompt": "twice at once"})  # asked for again, on purpose
        different = await client.call_tool("generate_image", {"prompt": "twice at once", "quality": "low"})
    assert "joined" not in again.content[0].text and saved(again) != saved(results[0])
    assert "joined" not in different.content[0].text
    assert generations(emulator, tag) == 3


async def test_an_edit_of_changed_input_is_a_new_job(project, emulator, monkeypatch):
    from tests.images import png
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.4, tag=tag))  # a stream of a few seconds
    monkeypatch.setenv("IMAGE_RELAY_MCP_WAIT_SECONDS", "0.2")
    source = project / "in.png"
    source.write_bytes(png(16, 16))
    arguments = {"prompt": "edit me", "image_paths": [str(source)], "size": "auto"}
    async with Client(server) as client:
        first = await client.call_tool("generate_image", arguments)
        source.write_bytes(png(16, 16, alpha=True))  # same path, other pixels
        second = await client.call_tool("generate_image", arguments)
        third = await client.call_tool("generate_image", arguments)  # the same pixels as the second
    ids = [re.search(r'job_id="(job_[0-9a-f]+)"', r.content[0].text).group(1) for r in (first, second, third)]
    assert ids[0] != ids[1] == ids[2] and "joined" not in second.content[0].text
    assert "joined that job" in third.content[0].text
    await until(lambda: generations(emulator, tag) == 2)


async def test_stop_on_cancel_still_stops_a_job_whose_server_is_killed(project, monkeypatch):
    relay = SilentRelay()
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", f"http://127.0.0.1:{relay.port}/v1")
    monkeypatch.setenv("IMAGE_RELAY_MCP_CANCEL_STOPS_JOB", "true")
    async with stdio(project) as client:
        async with anyio.create_task_group() as group:
            call_aside(group, client, {"prompt": "stop me"})
            record = await until(worker_running)
            await until(relay.connected.is_set)
            os.kill(record["pid"], getattr(signal, KILL))
            await until(relay.hung_up.is_set, 10)  # the worker saw its server go and stopped the request
            group.cancel_scope.cancel()
    result = await until(lambda: (jobs_dir() / f"{record['id']}.result").exists())
    assert result
    assert json.loads((jobs_dir() / f"{record['id']}.result").read_text())["error"]["code"] == "interrupted"


async def test_the_key_never_reaches_the_job_folder(project, emulator, monkeypatch):
    from tests.conftest import SENTINEL_KEY
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.1, tag=uuid.uuid4().hex[:8]))
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": "keep it secret", "partial_images": 1})
    assert result.is_error is False
    written = b"".join(p.read_bytes() for p in jobs_dir().iterdir())
    assert SENTINEL_KEY.encode() not in written and str(emulator.port).encode() not in written


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only: the relay holds its answer 6 s, less than a second "
                    "server takes to start under Wine; what is tested is the same on every platform")
async def test_a_saved_image_is_the_result_while_the_relay_still_holds_its_answer(project, emulator, monkeypatch):
    """The final image is saved and checked; the relay keeps the stream open; the server is killed. The
    next server names the image at once (notice and job_id), and once the stream ends, never again."""
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="stall-after-final", stall=6, tag=tag))
    outputs = project / "outputs"
    async with stdio(project) as client:
        async with anyio.create_task_group() as group:
            call_aside(group, client, {"prompt": "a lingering relay's owl"})
            record = await until(worker_running)
            image = (await until(lambda: finals(outputs)))[0]
            os.kill(record["pid"], getattr(signal, KILL))
            group.cancel_scope.cancel()
    assert not (jobs_dir() / f"{record['id']}.result").exists()  # the relay has not closed its answer

    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    async with stdio(project) as client:  # the next server, while the worker still waits on the relay
        nxt = await client.call_tool("generate_image", {"prompt": "an unrelated picture"})
        assert not (jobs_dir() / f"{record['id']}.result").exists()
        by_id = await client.call_tool("generate_image", {"prompt": "x", "job_id": record["id"]})
        await until(lambda: (jobs_dir() / f"{record['id']}.result").exists(), 30)
        await anyio.sleep(0.5)  # the server follows the worker to its result
        later = await client.call_tool("generate_image", {"prompt": "and one more"})
    text = nxt.content[0].text
    assert re.search(rf"Earlier job {record['id']} \(\"a lingering relay's owl\"\) has saved its image .*"
                     + re.escape(markdown_image(str(image), "a lingering relay's owl")), text), text
    assert by_id.is_error is False and saved(by_id) == [str(image)] and by_id.content[1].type == "image"
    assert "still being generated" not in by_id.content[0].text
    assert record["id"] not in later.content[0].text  # named once the image was saved; not again at the end
    assert generations(emulator, tag) == 3

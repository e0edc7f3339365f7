"""generate_image as an MCP task (``io.modelcontextprotocol/tasks``), through the official client with
the extension declared (tests/tasks_client.py); the emulator counts the generations that reach the relay."""
from __future__ import annotations

import base64
import os
import re
import signal
import sys
import uuid
from datetime import datetime

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from bridge.result import markdown_image
from bridge.server.app import server
from bridge.server.background import KEEP_SECONDS
from tests.tasks_client import TasksClient, request
from tests.test_jobs_outlive import KILL, finals, generations, records, until
from tests.test_mcp import saved
from tests.wire import TASKS, Wire

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fresh_jobs")]


@pytest.fixture
def relay(emulator, monkeypatch):
    """A relay whose images take a few seconds; returns the tag its generations are counted by."""
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.4, tag=tag))
    return tag


def blocks(result) -> list[tuple[str, str]]:
    return [(b.type, b.text if b.type == "text" else b.data) for b in result.content]


async def test_a_declaring_client_gets_a_task_at_once_and_polls_it_to_the_blocking_calls_image(mcp_env, emulator,
                                                                                               relay):
    tasks = TasksClient()
    async with Client(server, extensions=[tasks]) as client:
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool("generate_image", {"prompt": "a task owl", "partial_images": 1})
    created, *polls = tasks.seen
    job = records()[0]
    assert created["resultType"] == "task" and created["status"] == "working" and created["taskId"] == job["id"]
    assert created["ttlMs"] == KEEP_SECONDS * 1000 and created["pollIntervalMs"] > 0
    assert datetime.fromisoformat(created["createdAt"].replace("Z", "+00:00")).timestamp() == pytest.approx(
        job["started"], abs=0.01)
    working = [p for p in polls if p["status"] == "working"]
    assert working, "the task was answered only once the image was made"
    news = " ".join(p.get("statusMessage", "") for p in working)
    assert re.search(r"Generating the image, \d+ s so far: ", news) and "Partial image 1 of 1 received." in news
    assert polls[-1]["status"] == "completed" and polls[-1]["taskId"] == job["id"]
    text = result.content[0].text
    assert result.is_error is False and text.startswith("![a task owl](") and result.content[1].type == "image"
    async with Client(server) as plain:  # the same job, asked for by a client that blocks
        blocking = await plain.call_tool("generate_image", {"prompt": "x", "job_id": job["id"]})
    assert blocks(blocking) == blocks(result)
    assert generations(emulator, relay) == 1


async def test_a_resent_call_joins_the_running_task_and_pays_once(mcp_env, emulator, relay):
    tasks = TasksClient(resolve=False)
    arguments = {"prompt": "a heron asked twice"}
    async with Client(server, extensions=[tasks]) as client:
        await client.call_tool("generate_image", arguments)
        await client.call_tool("generate_image", arguments)
        first, second = tasks.seen
        assert first["taskId"] == second["taskId"]
        assert "joined that job instead of starting a new, billed generation" in second["statusMessage"]
        await until(lambda: records()[0].get("status") == "done")
        done = finals(mcp_env / "outputs")
        state = await request(client.session, "tasks/get", first["taskId"])
        again = await request(client.session, "tasks/get", first["taskId"])
    assert state["status"] == "completed" and state == again  # every poll after the end reads the same
    assert state["result"]["content"][0]["text"].startswith(markdown_image(str(done[0]), "a heron asked twice"))
    assert generations(emulator, relay) == 1


async def test_cancel_ends_the_tasks_waiting_never_the_paid_image(mcp_env, emulator, relay):
    tasks = TasksClient(resolve=False)
    async with Client(server, extensions=[tasks]) as client:
        await client.call_tool("generate_image", {"prompt": "a cancelled fox"})
        task_id = tasks.seen[0]["taskId"]
        ack = await request(client.session, "tasks/cancel", task_id)
        assert {k: v for k, v in ack.items() if k != "_meta"} == {"resultType": "complete"}  # an empty result
        state = await request(client.session, "tasks/get", task_id)
        assert state["status"] == "cancelled" and f'job_id="{task_id}"' in state["statusMessage"]
        image = (await until(lambda: finals(mcp_env / "outputs")))[0]
        await until(lambda: records()[0].get("status") == "done")
        assert (await request(client.session, "tasks/get", task_id))["status"] == "cancelled"  # terminal stays
    async with Client(server) as plain:  # the next result reports it, as for a cancelled call
        nxt = await plain.call_tool("generate_image", {"prompt": "the next picture", "size": "64x48"})
    assert (f"Earlier job {task_id} (\"a cancelled fox\") finished after its call was cancelled or timed out: "
            f"{markdown_image(str(image), 'a cancelled fox')}") in nxt.content[0].text, nxt.content[0].text
    assert generations(emulator, relay) == 2  # the fox once, then the next picture


async def test_cancel_stops_the_generation_when_the_user_asked_for_that(mcp_env, emulator, relay, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_MCP_CANCEL_STOPS_JOB", "true")
    tasks = TasksClient(resolve=False)
    async with Client(server, extensions=[tasks]) as client:
        await client.call_tool("generate_image", {"prompt": "a stopped fox", "partial_images": 2})
        task_id = tasks.seen[0]["taskId"]
        await until(lambda: generations(emulator, relay) == 1)
        await request(client.session, "tasks/cancel", task_id)
        await until(lambda: records()[0].get("status") == "done")
        state = await request(client.session, "tasks/get", task_id)
    assert state["status"] == "cancelled"
    assert records()[0]["error"]["code"] == "interrupted" and not finals(mcp_env / "outputs")


async def test_a_task_whose_job_has_ended_stays_completed_when_cancelled(mcp_env, emulator, relay):
    tasks = TasksClient()
    async with Client(server, extensions=[tasks]) as client:
        await client.call_tool("generate_image", {"prompt": "too late to cancel", "size": "64x48"})
        task_id = tasks.seen[0]["taskId"]
        await request(client.session, "tasks/cancel", task_id)
        assert (await request(client.session, "tasks/get", task_id))["status"] == "completed"


async def test_a_task_outlives_its_killed_server_and_the_next_server_returns_its_image(mcp_env, emulator, relay):
    tasks = TasksClient(resolve=False)
    async with stdio_with(mcp_env, tasks) as client:
        await client.call_tool("generate_image", {"prompt": "a fox that outlives its server", "partial_images": 1})
        task_id = tasks.seen[0]["taskId"]
        record = await until(lambda: next((r for r in records() if r.get("worker")), None))
        os.kill(record["pid"], getattr(signal, KILL))  # the server, while its job runs
    assert not finals(mcp_env / "outputs")
    async with stdio_with(mcp_env, TasksClient()) as client:  # the next server
        with anyio.fail_after(60):
            while (state := await request(client.session, "tasks/get", task_id))["status"] == "working":
                await anyio.sleep(0.2)
    assert state["status"] == "completed" and state["taskId"] == task_id
    image = finals(mcp_env / "outputs")[0]
    assert state["result"]["content"][0]["text"].startswith(markdown_image(str(image), "a fox that outlives its server"))
    assert state["result"]["content"][1]["type"] == "image"
    assert generations(emulator, relay) == 1


def stdio_with(project, tasks: TasksClient) -> Client:
    """A stdio server as in test_jobs_outlive, its client declaring the tasks extension."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "bridge.server.app"], env=dict(os.environ),
                                   cwd=str(project))
    return Client(params, read_timeout_seconds=60, extensions=[tasks])


async def test_refusals_and_ended_jobs_are_answered_at_once_not_as_tasks(mcp_env, emulator, relay):
    tasks = TasksClient(resolve=False)
    async with Client(server, extensions=[tasks]) as client:
        refused = await client.call_tool("generate_image", {"prompt": "x", "job_id": "job_0123456789ab"})
        assert refused.is_error and tasks.seen == []
        async with Client(server) as plain:
            ended = await plain.call_tool("generate_image", {"prompt": "made before", "size": "64x48"})
        job_id = records()[0]["id"]
        again = await client.call_tool("generate_image", {"prompt": "x", "job_id": job_id})
    assert tasks.seen == [] and blocks(again)[0] == blocks(ended)[0]


async def test_a_job_id_call_for_a_running_job_is_that_jobs_task(mcp_env, emulator, relay, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_MCP_WAIT_SECONDS", "0.2")
    async with Client(server) as plain:  # a blocking call that ran out of budget names its job
        pending = await plain.call_tool("generate_image", {"prompt": "a slow crane"})
    job_id = re.search(r'job_id="(job_[0-9a-f]+)"', pending.content[0].text).group(1)
    tasks = TasksClient()
    async with Client(server, extensions=[tasks]) as client:
        result = await client.call_tool("generate_image", {"prompt": "x", "job_id": job_id})
    assert tasks.seen[0]["taskId"] == job_id and result.content[0].text.startswith("![a slow crane](")
    assert generations(emulator, relay) == 1


async def test_a_polled_task_is_not_announced_by_other_results(mcp_env, emulator, relay):
    tasks = TasksClient(resolve=False)
    async with Client(server, extensions=[tasks]) as client:
        await client.call_tool("generate_image", {"prompt": "a watched fox"})
        task_id = tasks.seen[0]["taskId"]
        async with Client(server) as plain:
            other = await plain.call_tool("generate_image", {"prompt": "meanwhile", "size": "64x48"})
        assert task_id not in other.content[0].text  # its client hears of it through the task


def test_task_methods_are_refused_to_clients_that_did_not_declare_them(mcp_env, relay):
    with Wire(mcp_env) as wire:
        wire.discover({"extensions": {TASKS: {}}})
        _, created = wire.request("tools/call", {"name": "generate_image", "arguments": {"prompt": "a wired fox"}})
        task_id = created["result"]["taskId"]
        _, unknown = wire.request("tasks/get", {"taskId": "job_0123456789ab"})
        wire.capabilities = {}  # the same connection, a request that does not declare the extension
        _, undeclared = wire.request("tasks/get", {"taskId": task_id})
    assert unknown["error"]["code"] == -32602
    assert undeclared["error"]["code"] == -32021
    assert undeclared["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
    with Wire(mcp_env) as wire:
        wire.legacy("2025-11-25", {"extensions": {TASKS: {}}})
        _, legacy = wire.request("tasks/get", {"taskId": task_id})
    assert legacy["error"]["code"] == -32601  # no tasks of any kind on an earlier revision's wire


async def test_a_shared_server_callers_task_is_visible_to_that_caller_only(relay_env, emulator):
    from bridge.server.tokens import TokenStore
    from tests.remote_server import client, serving
    store = TokenStore()
    alice, bob = store.add("alice"), store.add("bob")
    with serving("--auth", "token", env={"IMAGE_RELAY_BASE_URL": emulator.url(delay=0.4)}) as base:
        tasks = TasksClient(resolve=False)
        async with client(base, alice, extensions=[tasks]) as mine:
            await mine.call_tool("generate_image", {"prompt": "alice's secret heron"})
            task_id = tasks.seen[0]["taskId"]
            async with client(base, bob, extensions=[TasksClient()]) as theirs:
                for method in ("tasks/get", "tasks/cancel", "tasks/update"):
                    with pytest.raises(MCPError) as refused:
                        await request(theirs.session, method, task_id)
                    assert refused.value.code == -32602 and "heron" not in str(refused.value)
            with anyio.fail_after(60):
                while (state := await request(mine.session, "tasks/get", task_id))["status"] == "working":
                    await anyio.sleep(0.2)
    text = state["result"]["content"][0]["text"]
    assert state["status"] == "completed" and re.match(r"!\[alice's secret heron\]\(http://127\.0\.0\.1:\d+/", text)

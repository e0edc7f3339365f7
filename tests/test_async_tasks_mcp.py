"""The MCP server and the relay's async tasks, through the official client: a job whose worker is
killed while it polls is finished by the next server through its job_id, by polling the task (no
second generation); a job that stopped at its time-out is taken up again by a call naming it. A
shared server's caller never makes the server fetch a link into its own network."""
from __future__ import annotations

import os
import signal
import sys
import time
import uuid

import anyio
import pytest
from mcp import Client

from bridge.server.app import server
from bridge.system.processes import is_alive
from tests.conftest import posted, tagged
from tests.test_async_tasks import polls
from tests.test_jobs_outlive import call_aside, finals, jobs_dir, records, stdio, until
from tests.test_mcp import saved

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fresh_jobs")]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only: SIGKILL for the server and then its "
                                "worker (tests/test_windows_jobs.py covers a worker outliving its server on Windows)")


@pytest.fixture
def async_project(mcp_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    monkeypatch.setenv("IMAGE_RELAY_ASYNC", "true")
    return mcp_env


@posix_only
async def test_a_job_whose_worker_is_killed_mid_poll_is_finished_by_the_next_server_through_job_id(
        async_project, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, tasktime=4, retry=0.2)
    async with stdio(async_project) as client:
        async with anyio.create_task_group() as group:
            call_aside(group, client, {"prompt": "a heron whose worker dies"})
            record = await until(lambda: next((r for r in records() if r.get("relay_task") and r.get("worker")), None))
            await until(lambda: len(polls(emulator, tag)) >= 2)  # polling, the image not done yet
            os.kill(record["pid"], signal.SIGKILL)  # the server first: nobody follows the worker any more
            group.cancel_scope.cancel()
    os.kill(record["worker"], signal.SIGKILL)  # then the worker, mid-poll
    await until(lambda: not is_alive(record["worker"]), 10)
    polls_before = len(polls(emulator, tag))
    assert not finals(async_project / "outputs") and not (jobs_dir() / f"{record['id']}.result").exists()
    assert record["order"]["relay"] and str(emulator.port) not in str(record)  # its relay by hash only

    async with stdio(async_project) as client:  # the next server
        by_id = await client.call_tool("generate_image", {"prompt": "x", "job_id": record["id"]})
    assert by_id.is_error is False, by_id.content[0].text
    (image,) = saved(by_id)
    assert image.startswith(str(async_project / "outputs"))
    assert len(posted(emulator, tag)) == 1  # generated once; the rest were polls of its task
    assert len(polls(emulator, tag)) > polls_before
    final = next(r for r in records() if r["id"] == record["id"])
    assert final["status"] == "done" and final["ok"] and final["relay_task"] == record["relay_task"] and final["resumes"] == 1


async def test_a_job_stopped_at_its_time_out_is_taken_up_again_by_its_job_id(async_project, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, tasktime=3, retry=0.2)
    monkeypatch.setenv("IMAGE_RELAY_TIMEOUT", "1.2")
    async with Client(server) as client:
        first = await client.call_tool("generate_image", {"prompt": "a heron out of time"})
        text = first.content[0].text
        assert first.is_error is True and "(deadline)" in text, text
        job_id = next(r["id"] for r in records())
        assert f'job_id="{job_id}"' in text and "without a new, billed generation" in text
        monkeypatch.setenv("IMAGE_RELAY_TIMEOUT", "60")
        await anyio.sleep(1.0)
        again = await client.call_tool("generate_image", {"prompt": "x", "job_id": job_id})
    assert again.is_error is False, again.content[0].text
    assert len(saved(again)) == 1 and len(posted(emulator, tag)) == 1


async def test_a_shared_servers_caller_never_makes_it_fetch_a_private_link(relay_env, emulator, monkeypatch):
    """The relay and its links are both on loopback: a local user's job fetches them, a remote
    caller's job never does (the server must not be a way into its own network)."""
    from bridge.server.tokens import TokenStore
    from tests.remote_server import client, serving
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    token = TokenStore().add("alice")
    tag = tagged(monkeypatch, emulator, fault="url-result")
    with serving("--auth", "token") as base:
        async with client(base, token) as c:
            result = await c.call_tool("generate_image", {"prompt": "a link into the server's network"})
    text = result.content[0].text
    assert result.is_error is True and "(unsafe_link)" in text and "private or local network address" in text
    assert "it is billed" in text and str(emulator.port) not in text
    assert [r.path for r in emulator.requests if r.options.get("tag") == tag] == ["/v1/images/generations"]


async def test_a_billed_image_whose_link_expired_gives_the_model_its_link(relay_env, emulator, monkeypatch, mcp_env):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    tagged(monkeypatch, emulator, fault="expired-link", filehost="localhost")
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": "a heron behind an expired link"})
    text = result.content[0].text
    assert result.is_error is True and "(link_expired)" in text and "it is billed" in text
    link = next(line for line in text.splitlines() if line.startswith("The relay's link to the image"))
    assert "http://localhost:" in link and len(link.rsplit("X-Tos-Signature=", 1)[1]) == 64

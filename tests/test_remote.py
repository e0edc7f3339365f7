"""A shared server over real HTTP: who may reach it, and how it refuses everyone else."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from bridge.server.tokens import TokenStore
from tests.conftest import SENTINEL_KEY
from tests.remote_server import client, post_initialize, run_refused, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def tokens():
    store = TokenStore()
    return {"alice": store.add("alice"), "bob": store.add("bob")}


def test_off_loopback_the_server_refuses_to_start_without_auth_and_allowed_hosts(relay_env):
    missing_hosts = run_refused("--host", "0.0.0.0")
    no_auth = run_refused("--host", "0.0.0.0", "--auth", "none", "--allow-host", "images.example")
    no_tokens = run_refused("--host", "0.0.0.0", "--allow-host", "images.example")
    for refused in (missing_hosts, no_auth, no_tokens):
        assert refused.returncode == 3 and refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1 and refused.stderr.startswith("image-relay-mcp: ")
    assert "--allow-host" in missing_hosts.stderr and "--auth token" in no_auth.stderr
    assert "token add NAME" in no_tokens.stderr


@pytest.mark.parametrize("bind", ["127.0.0.2", "0.0.0.0"])
def test_host_and_origin_are_checked_whatever_the_bind_address(relay_env, tokens, bind):
    args = ("--allow-host", "images.example") if bind == "0.0.0.0" else ()
    auth = {"Authorization": f"Bearer {tokens['alice']}"} if bind == "0.0.0.0" else {}
    connect = "127.0.0.2" if bind == "127.0.0.2" else "127.0.0.1"
    with serving(*args, host=bind, connect=connect) as base:
        port = base.rsplit(":", 1)[1]
        good_host = f"images.example:{port}" if bind == "0.0.0.0" else f"127.0.0.2:{port}"
        assert post_initialize(base, {"Host": "evil.example", **auth}).status_code == 421
        assert post_initialize(base, {"Host": good_host, "Origin": "https://evil.example", **auth}).status_code == 403
        assert post_initialize(base, {"Host": good_host, **auth}).status_code == 200
        assert post_initialize(base, {"Host": good_host, "Origin": f"http://{good_host}", **auth}).status_code == 200


async def test_only_callers_with_a_token_get_in_and_the_relay_never_sees_it(relay_env, emulator, tokens):
    with serving("--auth", "token") as base:
        missing = post_initialize(base)
        wrong = post_initialize(base, {"Authorization": "Bearer irb_not-a-token"})
        not_bearer = post_initialize(base, {"Authorization": f"Basic {tokens['alice']}"})
        for refused in (missing, wrong, not_bearer):
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer ")
            assert refused.content == missing.content  # the same answer whatever was wrong
        emulator.reset()
        async with client(base, tokens["alice"]) as c:
            result = await c.call_tool("generate_image", {"prompt": "a token's worth"})
        assert result.is_error is False
        seen = [r.headers.get("Authorization", "") for r in emulator.requests]
        assert seen and all(h == f"Bearer {SENTINEL_KEY}" for h in seen)  # no token passthrough

        TokenStore().remove("alice")  # takes effect on the running server
        assert post_initialize(base, {"Authorization": f"Bearer {tokens['alice']}"}).status_code == 401
        assert post_initialize(base, {"Authorization": f"Bearer {tokens['bob']}"}).status_code == 200


def test_token_commands_show_a_token_once_and_keep_only_its_hash(relay_env):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "bridge.server.app", "token", *args], capture_output=True,
                              text=True, encoding="utf-8", timeout=60, env=dict(os.environ))
    added = run("add", "carol")
    token = added.stdout.strip()
    assert added.returncode == 0 and token.startswith("irb_") and len(token) > 40
    stored = TokenStore().path.read_text(encoding="utf-8")
    assert token not in stored and "carol" in stored
    if os.name == "posix":
        assert TokenStore().path.stat().st_mode & 0o077 == 0
    assert TokenStore().principal(token) == "carol" and TokenStore().principal(token + "x") is None
    listed = run("list")
    assert listed.returncode == 0 and "carol" in listed.stdout and token not in listed.stdout + listed.stderr
    assert run("add", "carol").returncode == 2 and run("add", "../x").returncode == 2
    assert run("remove", "carol").returncode == 0 and run("remove", "carol").returncode == 2
    assert "carol" not in run("list").stdout

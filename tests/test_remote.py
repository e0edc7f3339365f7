"""A shared server over real HTTP: who may reach it, and how it refuses everyone else."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import httpx2
import pytest

from bridge.paths import user_data_dir
from bridge.server.tokens import TokenStore
from tests.conftest import SENTINEL_KEY
from tests.images import png
from tests.remote_server import MCP_HEADERS, client, post_initialize, run_refused, serving

pytestmark = pytest.mark.anyio



def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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
    # One refusal names every missing piece, with its command: the hosts and a way to authenticate.
    assert "--allow-host" in missing_hosts.stderr and "token add NAME" in missing_hosts.stderr
    assert "--auth oauth" in missing_hosts.stderr
    assert "--auth token" in no_auth.stderr and "--allow-host" not in no_auth.stderr
    assert "token add NAME" in no_tokens.stderr and "--allow-host NAME" not in no_tokens.stderr
    both = run_refused("--host", "0.0.0.0", "--auth", "none", "--allow-origin", "app.example")
    assert "--allow-host" in both.stderr and "--auth token" in both.stderr and "scheme://host" in both.stderr
    assert len(both.stderr.strip().splitlines()) == 1


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


# -- each caller sees only its own work ------------------------------------------------------

def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def links(result) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\((http://[^)]+)\)", text_of(result))


def no_server_paths(text: str, tmp_path: Path) -> bool:
    return str(tmp_path) not in text and not re.search(r"(^|[\s(<])/(home|tmp|root|srv|var|work)\b", text)


async def finished(c, result):
    """Call again with the job id until the job's image (or error) comes back."""
    for _ in range(100):
        found = re.search(r'still being generated \(job (job_\w+)', text_of(result))
        if not found:
            return result
        result = await c.call_tool("generate_image", {"prompt": "again", "job_id": found.group(1)})
    raise AssertionError("the job never finished")


def get(url: str, token: str | None) -> httpx2.Response:
    return httpx2.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)


async def test_two_callers_never_see_each_others_jobs_notices_or_images(relay_env, emulator, tokens, tmp_path):
    env = {"IMAGE_RELAY_BASE_URL": emulator.url(delay=2.5), "IMAGE_RELAY_MCP_WAIT_SECONDS": "0.5"}
    with serving("--auth", "token", env=env) as base:
        async with client(base, tokens["alice"]) as alice:
            pending = await alice.call_tool("generate_image", {"prompt": "client A secret prompt: Nightingale"})
        job_id = re.search(r'job_id="(job_\w+)"', text_of(pending)).group(1)
        async with client(base, tokens["bob"]) as bob:
            own = await finished(bob, await bob.call_tool("generate_image", {"prompt": "bob's own"}))
            taken = await bob.call_tool("generate_image", {"prompt": "x", "job_id": job_id})
        for result in (own, taken):
            assert "Nightingale" not in text_of(result) and job_id not in text_of(result).replace(repr(job_id), "")
        assert taken.is_error and "no image job" in text_of(taken) and not links(taken)
        assert not [b for b in taken.content if b.type == "image"]
        async with client(base, tokens["alice"]) as alice:
            mine = await finished(alice, await alice.call_tool("generate_image", {"prompt": "x", "job_id": job_id}))
        assert mine.is_error is False and len(links(mine)) == 1
        assert get(links(mine)[0], tokens["alice"]).status_code == 200
        assert get(links(mine)[0], tokens["bob"]).status_code == 404
        assert get(links(own)[0], tokens["alice"]).status_code == 404


async def test_remote_callers_cannot_name_server_files_and_every_refusal_reads_the_same(relay_env, emulator, tokens,
                                                                                        tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "secret.png").write_bytes(png(64, 48))
    (private / "notes.txt").write_text("not an image")
    (private / "huge.png").write_bytes(png(64, 48) + b"\0" * (2 * 1048576))
    with serving("--auth", "token", env={"IMAGE_RELAY_MCP_UPLOAD_MAX_MB": "1"}) as base:
        emulator.reset()
        async with client(base, tokens["alice"]) as alice:
            by_path = [await alice.call_tool("generate_image", {"prompt": "edit", "image_paths": [str(private / name)]})
                       for name in ("secret.png", "notes.txt", "huge.png", "missing.png")]
            masked = await alice.call_tool("generate_image", {"prompt": "edit", "images": [b64(png(64, 48))],
                                                               "mask_path": str(private / "secret.png")})
            sent = [await alice.call_tool("generate_image", {"prompt": "edit", "images": [item]})
                    for item in ("%%%not base64", b64(b"not an image"), b64(png(64, 48) + b"\0" * (2 * 1048576)),
                                 "img_" + "0" * 32)]
        assert not emulator.requests  # nothing was sent to the relay
        for result in by_path + [masked] + sent:
            assert result.is_error and no_server_paths(text_of(result), tmp_path)
        assert len({text_of(r) for r in by_path + [masked]}) == 1
        assert len({text_of(r) for r in sent}) == 1


async def test_remote_edits_take_images_sent_in_the_call_or_the_callers_own_image_ids(relay_env, emulator, tokens,
                                                                                      tmp_path):
    with serving("--auth", "token") as base:
        async with client(base, tokens["alice"]) as alice:
            first = await alice.call_tool("generate_image", {"prompt": "a cat"})
            image_id = re.search(r"/images/(img_\w+)", links(first)[0]).group(1)
            emulator.reset()
            edited = await alice.call_tool("generate_image", {"prompt": "add a hat", "images": [
                "data:image/png;base64," + b64(png(64, 48)), image_id]})
        assert edited.is_error is False and links(edited)
        edit_calls = [r for r in emulator.requests if r.method == "POST"]
        assert edit_calls and b64(png(64, 48)).encode() in edit_calls[-1].body  # the image sent, sent on
        async with client(base, tokens["bob"]) as bob:
            stolen = await bob.call_tool("generate_image", {"prompt": "add a hat", "images": [image_id]})
        assert stolen.is_error and "could not be used" in text_of(stolen)


async def test_remote_callers_roots_never_choose_where_the_server_writes(relay_env, tokens, tmp_path):
    from mcp.types import ListRootsResult, Root
    server_folder = tmp_path / "server folder"
    server_folder.mkdir()

    async def roots(_context):
        return ListRootsResult(roots=[Root(uri=server_folder.as_uri(), name="project")])
    with serving("--auth", "token", env={"CLAUDE_PROJECT_DIR": str(server_folder)}) as base:
        async with client(base, tokens["alice"], list_roots_callback=roots, mode="legacy") as alice:
            result = await alice.call_tool("generate_image", {"prompt": "rooted"})
    assert result.is_error is False and not list(server_folder.iterdir())
    mine = user_data_dir() / "callers" / "t-alice" / "outputs"
    assert len(list(mine.glob("*.png"))) == 1


async def test_a_remote_caller_downloads_every_image_it_made_and_nobody_else_can(relay_env, emulator, tokens,
                                                                                  tmp_path):
    from bridge.images.sniff import read_info
    with serving("--auth", "token") as base:
        seen: list[str] = []

        async def on_progress(value, total, message):
            seen.append(message)
        async with client(base, tokens["alice"]) as alice:
            result = await alice.call_tool("generate_image", {"prompt": "with partials", "partial_images": 2},
                                           progress_callback=on_progress)
        text = text_of(result)
        assert result.is_error is False and no_server_paths(text + "\n".join(seen), tmp_path)
        assert [b for b in result.content if b.type == "image"]  # the preview still travels
        [url] = links(result)
        assert url.startswith(base + "/images/img_") and f"Download {url}" in text
        full = get(url, tokens["alice"])
        assert full.status_code == 200 and read_info(full.content).size == "64x48"
        assert re.search(r"(\d+) bytes", text).group(1) == str(len(full.content))
        partial_links = [m for message in seen for m in re.findall(r"http://\S+/images/img_\w+\.\w+", message)]
        assert len(set(partial_links)) >= 2
        for link in set(partial_links):
            assert get(link, tokens["alice"]).status_code == 200
        assert get(url, tokens["bob"]).status_code == 404
        assert get(url, None).status_code == 401 and get(url, "irb_wrong").status_code == 401
        assert "www-authenticate" in get(url, None).headers


async def test_per_caller_job_and_daily_limits(relay_env, emulator, tokens):
    env = {"IMAGE_RELAY_MCP_CALLER_DAILY_IMAGES": "2", "IMAGE_RELAY_MCP_CALLER_MAX_JOBS": "1",
           "IMAGE_RELAY_BASE_URL": emulator.url(delay=1.5), "IMAGE_RELAY_MCP_WAIT_SECONDS": "0.3"}
    with serving("--auth", "token", env=env) as base:
        async with client(base, tokens["alice"]) as alice:
            first = await alice.call_tool("generate_image", {"prompt": "one"})
            busy = await alice.call_tool("generate_image", {"prompt": "two"})
            async with client(base, tokens["bob"]) as bob:
                bobs = await bob.call_tool("generate_image", {"prompt": "bob one"})
            done = await finished(alice, first)
            second = await finished(alice, await alice.call_tool("generate_image", {"prompt": "two again"}))
            over = await alice.call_tool("generate_image", {"prompt": "three"})
    assert "still being generated" in text_of(first) and "still being generated" in text_of(bobs)
    assert busy.is_error and "caller_limit" in text_of(busy) and "at once" in text_of(busy)
    assert not done.is_error and not second.is_error
    assert over.is_error and "caller_limit" in text_of(over) and "2 of your 2 images for today" in text_of(over)


async def test_a_callers_job_limit_holds_for_calls_sent_at_once(relay_env, emulator, tokens):
    """Admission and the job's start are one step: four calls at once with a limit of two start two jobs."""
    env = {"IMAGE_RELAY_MCP_CALLER_MAX_JOBS": "2", "IMAGE_RELAY_BASE_URL": emulator.url(delay=2.0),
           "IMAGE_RELAY_MCP_WAIT_SECONDS": "0.5"}
    marker = uuid.uuid4().hex[:8]
    emulator.reset()
    with serving("--auth", "token", env=env) as base:
        async with client(base, tokens["alice"]) as alice:
            answers: list = []

            async def one(i: int) -> None:
                answers.append(await alice.call_tool("generate_image", {"prompt": f"at once {marker} {i}"}))

            async with anyio.create_task_group() as group:
                for i in range(4):
                    group.start_soon(one, i)
            started = [a for a in answers if not a.is_error]
            for result in started:
                assert not (await finished(alice, result)).is_error
    refused = [a for a in answers if a.is_error]
    assert len(started) == 2 and len(refused) == 2
    assert all("caller_limit" in text_of(a) and "at once" in text_of(a) for a in refused)
    sent = [r for r in emulator.requests if marker in json.dumps(r.json or {})]
    assert len(sent) == 2  # the relay never saw the refused two


def test_browser_hosts_get_cors_for_configured_origins_only(relay_env, tokens):
    with serving("--auth", "token", "--allow-origin", "https://app.example") as base:
        preflight = httpx2.options(f"{base}/mcp", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-session-id"}, timeout=30)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "mcp-session-id" in preflight.headers["access-control-allow-headers"].lower()
        answer = post_initialize(base, {"Origin": "https://app.example", "Authorization": f"Bearer {tokens['alice']}"})
        assert answer.status_code == 200 and answer.headers.get("mcp-session-id")
        assert "mcp-session-id" in answer.headers["access-control-expose-headers"].lower()
        refused = post_initialize(base, {"Origin": "https://app.example"})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://app.example"
        foreign = httpx2.options(f"{base}/mcp", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"}, timeout=30)
        assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers


def test_an_mcp_session_is_no_credential(relay_env, tokens):
    with serving("--auth", "token") as base:
        opened = post_initialize(base, {"Authorization": f"Bearer {tokens['alice']}"})
        session = opened.headers["mcp-session-id"]
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        headers = {**MCP_HEADERS, "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-06-18"}
        as_bob = httpx2.post(f"{base}/mcp", json=call, timeout=30,
                             headers={**headers, "Authorization": f"Bearer {tokens['bob']}"})
        without = httpx2.post(f"{base}/mcp", json=call, timeout=30, headers=headers)
        assert as_bob.status_code == 404 and without.status_code == 401
        assert "generate_image" not in as_bob.text + without.text


async def test_the_image_card_shows_a_remote_caller_only_its_own_jobs_and_no_server_paths(relay_env, tokens,
                                                                                          tmp_path):
    from mcp.client import advertise

    from bridge.server.card import CARD_KEY
    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    with serving("--auth", "token") as base:
        async with client(base, tokens["alice"], extensions=[apps]) as alice:
            result = await alice.call_tool("generate_image", {"prompt": "alice's card"})
            card = result.meta[CARD_KEY]
            [image] = card["images"]
            mine = await alice.read_resource(image["uri"])
            own_edit = await alice.call_tool("card_generate", {
                "action": "edit", "arguments": {}, "job_id": card["job"], "prompt": "add a hat",
                "mask_png": b64(png(64, 48, alpha=True))})
        assert not own_edit.is_error, text_of(own_edit)  # her own image, by id, and the mask's bytes
        assert "path" not in image and "folder" not in card and image["url"] == links(result)[0]
        assert no_server_paths(json.dumps(card), tmp_path) and mine.contents
        async with client(base, tokens["bob"], extensions=[apps]) as bob:
            status = await bob.call_tool("card_status", {"job_id": card["job"]})
            edit = await bob.call_tool("card_generate", {"action": "edit", "arguments": {}, "job_id": card["job"],
                                                         "prompt": "make it bob's"})
            with pytest.raises(Exception):
                await bob.read_resource(image["uri"])
        assert status.is_error and "alice" not in text_of(status) and not (status.meta or {}).get(CARD_KEY)
        assert edit.is_error and "no longer" in text_of(edit)


async def test_edit_of_takes_only_a_remote_callers_own_jobs_and_image_ids(relay_env, emulator, tokens, tmp_path):
    with serving("--auth", "token") as base:
        async with client(base, tokens["alice"]) as alice:
            first = await alice.call_tool("generate_image", {"prompt": "a lighthouse"})
            image_id = re.search(r"/images/(img_\w+)", links(first)[0]).group(1)
            by_id = await alice.call_tool("generate_image", {"prompt": "now at night", "edit_of": image_id})
            path = next((user_data_dir() / "callers" / "t-alice"
                         / "outputs").glob("*.png"))
            by_path = await alice.call_tool("generate_image", {"prompt": "now at night", "edit_of": str(path)})
        assert by_id.is_error is False and links(by_id), text_of(by_id)
        assert by_path.is_error and no_server_paths(text_of(by_path), tmp_path)
        from bridge.paths import user_state_dir
        records = [json.loads(p.read_text()) for p in (user_state_dir() / "jobs").glob("job_*.json")]
        alices = [r["id"] for r in records if r.get("owner") == "t-alice"]
        assert len(alices) == 2
        async with client(base, tokens["alice"]) as alice:
            own_job = await alice.call_tool("generate_image", {"prompt": "at dawn", "edit_of": alices[0]})
        async with client(base, tokens["bob"]) as bob:
            stolen_job = await bob.call_tool("generate_image", {"prompt": "mine now", "edit_of": alices[0]})
            stolen_id = await bob.call_tool("generate_image", {"prompt": "mine now", "edit_of": image_id})
        assert own_job.is_error is False, text_of(own_job)
        assert stolen_job.is_error and stolen_id.is_error and not links(stolen_job) + links(stolen_id)

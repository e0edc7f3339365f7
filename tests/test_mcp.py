"""The MCP server through the official client: schema, results, errors, progress, concurrency."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from bridge.paths import user_config_file, user_data_dir
from bridge.result import markdown_image
from bridge.system.uris import path_from_file_uri
from bridge.server.app import server
from tests.conftest import SENTINEL_KEY
from tests.images import png

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fresh_jobs")]





SAVED = re.compile(r"^Saved (.+) \((\d+x\d+), (\w+), (\d+) bytes\)\.$", re.M)


def saved(result) -> list[str]:
    """The absolute paths a success text names, in order."""
    return [m.group(1) for m in SAVED.finditer(result.content[0].text)]


async def call(arguments: dict, progress: list | None = None):
    async def on_progress(value, total, message):
        progress.append((value, total, message))
    async with Client(server) as client:
        return await client.call_tool("generate_image", arguments,
                                      progress_callback=on_progress if progress is not None else None)


async def test_tool_schema_and_annotations():
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == ["generate_image"]
    tool = tools[0]
    assert "one to three minutes" in tool.description and "job_id" in tool.description
    assert "markdown image tag" in tool.description
    a = tool.annotations
    assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == (False, False, False, True)
    props = tool.input_schema["properties"]
    assert set(props) == {"prompt", "image_paths", "mask_path", "size", "quality", "output_format", "background",
                          "output_compression", "partial_images", "n", "api_mode", "moderation", "input_fidelity",
                          "negative_prompt", "seed", "output_name", "use_prompt_template", "job_id",
                          "edit_of", "images", "mask", "aspect_ratio", "resolution"}
    assert props["api_mode"]["anyOf"][0]["enum"] == ["responses", "images", "chat", "gemini", "auto"]
    assert "Nano Banana" in tool.description and "aspect_ratio" in tool.description
    assert tool.input_schema["required"] == ["prompt"]
    assert all(props[name].get("description") for name in props)
    assert "ctx" not in props


async def test_aspect_ratio_and_resolution_reach_a_gemini_relay(mcp_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3-pro-image")
    result = await call({"prompt": "a wide banana", "api_mode": "gemini", "aspect_ratio": "16:9", "resolution": "2K"})
    assert not result.is_error, result.content[0].text
    assert "(2752x1536, png," in result.content[0].text
    (sent,) = [r for r in emulator.requests if r.options.get("tag") == tag and r.method == "POST"]
    assert sent.json["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}


async def test_success_is_compact_text_led_by_the_tag_then_a_preview(mcp_env):
    import io
    from PIL import Image
    progress: list = []
    result = await call({"prompt": "an mcp owl", "partial_images": 2, "size": "1024x1024"}, progress)
    assert result.is_error is False and result.structured_content is None
    text = result.content[0].text
    path = saved(result)[0]
    assert text.startswith("![an mcp owl](") and text.splitlines()[0] == markdown_image(path, "an mcp owl")
    assert Path(path).parent == mcp_env / "outputs" and "1024x1024, png" in text
    assert "debug_summary" not in text and "raw_log" not in text and len(text) < 600
    assert [block.type for block in result.content] == ["text", "image"]
    preview = result.content[1]
    data = __import__("base64").b64decode(preview.data)
    assert preview.mime_type == "image/jpeg" and len(data) <= 300_000
    picture = Image.open(io.BytesIO(data))
    assert picture.size == (1024, 1024) and data != Path(path).read_bytes()
    values = [v for v, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(total == 8 for _, total, _ in progress)
    messages = [m for _, _, m in progress]
    for expected in ("Connected", "accepted", "rendering", "Partial image 1 of 2", "Partial image 2 of 2",
                     "Final image received", "Saved"):
        assert any(expected in m for m in messages), messages
    order = [next(i for i, m in enumerate(messages) if e in m) for e in ("Connected", "Partial image 1", "Saved")]
    assert order == sorted(order)


async def test_previews_follow_their_settings(mcp_env, monkeypatch):
    import base64
    import io
    from PIL import Image
    monkeypatch.setenv("IMAGE_RELAY_MCP_PREVIEW_SIZE", "256")
    result = await call({"prompt": "small preview", "size": "1536x1024"})
    picture = Image.open(io.BytesIO(base64.b64decode(result.content[1].data)))
    assert max(picture.size) == 256 and picture.size == (256, 171)
    monkeypatch.setenv("IMAGE_RELAY_MCP_PREVIEW_SIZE", "0")
    result = await call({"prompt": "no preview"})
    assert [block.type for block in result.content] == ["text"]


async def test_structured_content_is_opt_in(mcp_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_MCP_STRUCTURED", "true")
    result = await call({"prompt": "structured"})
    assert result.structured_content["ok"] and result.structured_content["image_path"] == saved(result)[0]


async def test_several_images_get_one_tag_and_preview_each(mcp_env):
    result = await call({"prompt": "two owls", "n": 2, "api_mode": "auto"})
    lines = result.content[0].text.splitlines()
    assert lines[0].startswith("![two owls](") and lines[1].startswith("![two owls](") and lines[0] != lines[1]
    assert len(saved(result)) == 2 and [b.type for b in result.content] == ["text", "image", "image"]


async def test_edit_with_mask(mcp_env):
    (mcp_env / "a.png").write_bytes(png(20, 10))
    (mcp_env / "m.png").write_bytes(png(20, 10, alpha=True))
    result = await call({"prompt": "edit", "image_paths": [str(mcp_env / "a.png")], "mask_path": str(mcp_env / "m.png"),
                         "size": "auto", "api_mode": "images"})
    assert result.is_error is False and "(20x10, png," in result.content[0].text


@pytest.mark.parametrize("arguments, env, code", [
    ({"prompt": "  "}, {}, "invalid_input"),
    ({"prompt": "x", "image_paths": ["/nonexistent.png"]}, {}, "invalid_input"),
    ({"prompt": "x"}, {"IMAGE_RELAY_API_KEY": ""}, "config_missing"),
    ({"prompt": "x"}, {"fault": "moderation"}, "moderation_blocked"),
    ({"prompt": "x"}, {"fault": "http-401"}, "unauthorized"),
    ({"prompt": "x"}, {"fault": "http-502-html"}, "relay_error"),
    ({"prompt": "x"}, {"fault": "text-only"}, "text_only"),
    ({"prompt": "x", "partial_images": 1}, {"fault": "cut-after-partial"}, "stream_broken"),
])
async def test_failures_are_one_text_block_with_code_message_and_next_step(mcp_env, emulator, monkeypatch,
                                                                           arguments, env, code):
    if "fault" in env:
        monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault=env["fault"], tag=uuid.uuid4().hex[:8]))
    for key, value in env.items():
        if key.startswith("IMAGE_RELAY_"):
            monkeypatch.setenv(key, value)
    result = await call(arguments)
    assert result.is_error is True and result.structured_content is None and len(result.content) == 1
    text = result.content[0].text
    assert text.startswith(f"Image generation failed ({code}): ") and "\nNext: " in text
    assert "Traceback" not in text and SENTINEL_KEY not in text
    if code == "stream_broken":
        tag = re.search(r"The best partial image was kept: (!\[x\]\((.+)\))", text)
        target = tag and tag.group(2)
        assert target and (path_from_file_uri(target) or Path(target)).is_file() and "-partial-1" in target


async def test_six_concurrent_calls_run_concurrently(mcp_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.1))
    async with Client(server) as client:
        started = time.monotonic()
        await client.call_tool("generate_image", {"prompt": "solo"})
        single = time.monotonic() - started
        results = []

        async def one(i):
            results.append(await client.call_tool("generate_image", {"prompt": f"parallel {i}"}))
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)
        together = time.monotonic() - started
    paths = {saved(r)[0] for r in results}
    assert len(paths) == 6 and all(Path(p).is_file() for p in paths)
    # Serial execution would take six times as long; the bench quotes the real ratio.
    assert together < single * 4, (single, together)


class SilentRelay:
    """Answers with one event, then goes quiet and notes when the client hangs up."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(60)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            self.connected.set()
            event = b'event: response.created\ndata: {"type":"response.created","response":{"id":"r"}}\n\n'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + f"{len(event):x}\r\n".encode() + event + b"\r\n")
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            self.hung_up.set()


async def _cancel_a_call_mid_job(client, relay) -> None:
    async with anyio.create_task_group() as group:
        group.start_soon(client.call_tool, "generate_image", {"prompt": "to be cancelled"})
        with anyio.fail_after(10):
            while not relay.connected.is_set():
                await anyio.sleep(0.05)
        await anyio.sleep(0.3)
        group.cancel_scope.cancel()  # the client gives up on the call: notifications/cancelled


async def test_a_cancelled_call_leaves_its_job_running(mcp_env, monkeypatch):
    relay = SilentRelay()
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", f"http://127.0.0.1:{relay.port}/v1")
    monkeypatch.setenv("IMAGE_RELAY_IDLE_TIMEOUT", "3")
    async with Client(server) as client:
        await _cancel_a_call_mid_job(client, relay)
        await anyio.sleep(1.0)
        assert not relay.hung_up.is_set()  # the relay request (maybe billed) goes on
    with anyio.fail_after(10):  # until the job's own idle timeout ends it
        while not relay.hung_up.is_set():
            await anyio.sleep(0.05)


@pytest.mark.parametrize("how", ["client closed", "request cancelled"])
async def test_stop_on_cancel_stops_the_upstream_request(mcp_env, monkeypatch, how):
    relay = SilentRelay()
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", f"http://127.0.0.1:{relay.port}/v1")
    monkeypatch.setenv("IMAGE_RELAY_MCP_CANCEL_STOPS_JOB", "true")
    async with Client(server) as client:
        await _cancel_a_call_mid_job(client, relay)
        if how == "request cancelled":
            with anyio.fail_after(5):
                while not relay.hung_up.is_set():
                    await anyio.sleep(0.05)
    with anyio.fail_after(5):
        while not relay.hung_up.is_set():
            await anyio.sleep(0.05)


async def test_past_the_wait_budget_a_job_id_comes_back_and_finds_the_image(mcp_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.4, tag=tag))
    monkeypatch.setenv("IMAGE_RELAY_MCP_WAIT_SECONDS", "0.5")
    async with Client(server) as client:
        first = await client.call_tool("generate_image", {"prompt": "a slow heron", "partial_images": 2})
        assert first.is_error is False
        text = first.content[0].text
        job_id = re.search(r'job_id="(job_[0-9a-f]+)"', text).group(1)
        assert "still being generated" in text and "billed again" in text and "so far" in text
        monkeypatch.setenv("IMAGE_RELAY_MCP_WAIT_SECONDS", "30")
        again = await client.call_tool("generate_image", {"prompt": "a slow heron", "job_id": job_id})
    assert again.is_error is False and again.content[0].text.startswith("![a slow heron](")
    assert Path(saved(again)[0]).is_file() and again.content[1].type == "image"
    assert len([r for r in emulator.requests if r.options.get("tag") == tag]) == 1  # one billed generation, not two


async def test_a_job_finished_after_its_call_was_cancelled_is_reported_next(mcp_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.3, tag=uuid.uuid4().hex[:8]))
    async with Client(server) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "generate_image", {"prompt": "an abandoned lark", "partial_images": 2})
            await anyio.sleep(0.5)
            group.cancel_scope.cancel()
        outputs = mcp_env / "outputs"
        with anyio.fail_after(15):
            while not [p for p in outputs.glob("*lark*.png") if "-partial-" not in p.name]:
                await anyio.sleep(0.1)
        next_result = await client.call_tool("generate_image", {"prompt": "the next picture"})
        text = next_result.content[0].text
        assert text.startswith("![the next picture](")
        assert re.search(r'finished after its call was cancelled or timed out: !\[an abandoned lark\]\(', text)
        later = await client.call_tool("generate_image", {"prompt": "and another"})
        assert "abandoned lark" not in later.content[0].text  # reported once


async def test_a_restarted_server_reports_finished_and_lost_jobs(mcp_env, emulator, monkeypatch):
    import bridge.server.app as mcp_server
    from bridge.paths import user_state_dir
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.2, tag=uuid.uuid4().hex[:8]))
    async with Client(server) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "generate_image", {"prompt": "before the restart"})
            await anyio.sleep(0.3)
            group.cancel_scope.cancel()
    jobs_dir = user_state_dir() / "jobs"
    with anyio.fail_after(15):
        while not any(json.loads(p.read_text(encoding="utf-8")).get("status") == "done" for p in jobs_dir.glob("job_*.json")):
            await anyio.sleep(0.1)
    partial = mcp_env / "outputs" / "20260101-000000-dying-0a1b2c3d-partial-1.png"
    partial.write_bytes(png(8, 8))
    (jobs_dir / "job_0123456789ab.json").write_text(json.dumps({
        "id": "job_0123456789ab", "status": "running", "pid": 2 ** 22 + 12345, "started": time.time() - 60,
        "prompt": "a dying server", "partial_image_paths": [str(partial)]}), encoding="utf-8")
    mcp_server._JOBS.clear()  # a new server process: nothing in memory, the records on disk
    result = await call({"prompt": "after the restart"})
    text = result.content[0].text
    assert re.search(r'"before the restart"\) finished after its call was cancelled', text)
    assert re.search(r'job_0123456789ab \("a dying server"\) was lost when its server stopped; its best partial '
                     r'image: !\[a dying server\]\(', text)
    again = await call({"prompt": "job id of the lost one", "job_id": "job_0123456789ab"})
    assert again.is_error is True and "was lost" in again.content[0].text


async def test_unknown_job_ids_are_refused_plainly(mcp_env):
    for job_id in ("job_ffffffffffff", "../../etc/passwd"):
        result = await call({"prompt": "x", "job_id": job_id})
        assert result.is_error is True and "There is no image job" in result.content[0].text


async def test_stdio_subprocess_lists_and_calls(relay_env, tmp_path):
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(tmp_path)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "bridge.server.app"], env=env, cwd=str(tmp_path))
    async with Client(params, read_timeout_seconds=60) as client:
        tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == ["generate_image"]
        result = await client.call_tool("generate_image", {"prompt": "over stdio"})
    assert result.is_error is False
    assert Path(saved(result)[0]).parent == tmp_path / "outputs"


async def test_heartbeat_while_the_relay_is_silent(mcp_env, emulator, monkeypatch):
    from bridge.server import calls
    monkeypatch.setattr(calls, "HEARTBEAT_SECONDS", 0.5)
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="stall", stall=3, tag=uuid.uuid4().hex[:8]))
    progress: list = []
    result = await call({"prompt": "slow relay"}, progress)
    assert result.is_error is False
    beats = [v for v, _, m in progress if m.startswith("Still waiting for the relay")]
    assert len(beats) >= 2
    values = [v for v, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)


async def test_relative_output_dir_follows_mcp_roots(relay_env, monkeypatch, tmp_path):
    from mcp.types import ListRootsResult, Root
    project = tmp_path / "rooted project"
    project.mkdir()

    async def roots(_context):
        return ListRootsResult(roots=[Root(uri=project.as_uri(), name="project")])
    async with Client(server, list_roots_callback=roots, mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "rooted"})
    assert Path(saved(result)[0]).parent == project / "outputs"


async def test_plugin_install_folder_is_never_the_output_dir(relay_env, monkeypatch, tmp_path):
    plugin = tmp_path / "plugins" / "cache" / "image-relay-bridge" / "0.1.0"
    (plugin / ".claude-plugin").mkdir(parents=True)
    monkeypatch.chdir(plugin)
    result = await call({"prompt": "no project known"})
    path = Path(saved(result)[0])
    data_home = user_data_dir()
    assert path.parent == data_home / "outputs" and plugin not in path.parents


async def test_settings_come_from_the_user_config_file(emulator, monkeypatch, tmp_path):
    config = user_config_file()
    config.parent.mkdir(parents=True)
    config.write_text(f"IMAGE_RELAY_BASE_URL={emulator.base_url}\nIMAGE_RELAY_API_KEY=sk-from-file\n"
                      "IMAGE_RELAY_TEXT_MODEL=gpt-5\nIMAGE_RELAY_IMAGE_MODEL=gpt-image-emulator\n"
                      "IMAGE_RELAY_DEFAULT_SIZE=32x32\n", encoding="utf-8")
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    result = await call({"prompt": "configured by file"})
    assert result.is_error is False and "(32x32, png," in result.content[0].text


async def test_cli_runs_and_mcp_calls_share_one_output_dir(mcp_env, relay_env, monkeypatch, tmp_path):
    import subprocess
    shared = tmp_path / "shared out"
    monkeypatch.setenv("IMAGE_RELAY_OUTPUT_DIR", str(shared))
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, "-m", "bridge", "--no-open", "--quiet", "same prompt"], env=env,
                              stdout=subprocess.PIPE, text=True, encoding="utf-8") for _ in range(3)]
    results = []
    async with Client(server) as client:
        async def one(quality):  # identical calls would join one job: the same prompt, three qualities
            results.append(await client.call_tool("generate_image", {"prompt": "same prompt", "quality": quality}))
        async with anyio.create_task_group() as group:
            for quality in ("low", "medium", "high"):
                group.start_soon(one, quality)
    cli_paths = [json.loads(p.communicate(timeout=60)[0])["image_path"] for p in procs]
    paths = cli_paths + [saved(r)[0] for r in results]
    assert len(set(paths)) == 6
    from bridge.images.sniff import read_info
    assert all(Path(p).parent == shared and read_info(Path(p).read_bytes()).size == "64x48" for p in paths)
    assert not [p for p in shared.iterdir() if p.name.startswith(".")]


async def test_streamable_http_transport(relay_env, tmp_path):
    import socket
    import subprocess
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "bridge.server.app", "--transport", "streamable-http", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with anyio.fail_after(60):
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    await anyio.sleep(0.1)
        async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as client:
            result = await client.call_tool("generate_image", {"prompt": "over http"})
        assert result.is_error is False and Path(saved(result)[0]).is_file()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert out == b""  # nothing but protocol on stdout, and over HTTP not even that


async def test_calls_beyond_the_job_limit_wait_and_say_how_many_are_ahead(mcp_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.2, tag=uuid.uuid4().hex[:8]))
    monkeypatch.setenv("IMAGE_RELAY_MCP_MAX_JOBS", "1")
    results, progress = [], {}

    async with Client(server) as client:
        async def one(i):
            seen = progress.setdefault(i, [])

            async def on_progress(value, total, message):
                seen.append(message)
            results.append(await client.call_tool("generate_image", {"prompt": f"queued {i}"},
                                                   progress_callback=on_progress))
        async with anyio.create_task_group() as group:
            for i in range(3):
                group.start_soon(one, i)
                await anyio.sleep(0.05)
    assert len(results) == 3 and all(not r.is_error for r in results)
    assert len({saved(r)[0] for r in results}) == 3
    waits = [m for messages in progress.values() for m in messages if m.startswith("Waiting for a free slot")]
    assert any("1 ahead" in m for m in waits) and any("0 ahead" in m for m in waits)


@pytest.mark.parametrize("client, plugin_root, hinted", [
    ("claude-code", "/plugins/image-relay-bridge", True),
    ("claude-code", None, False),  # registered by hand: Claude Code has no plugin settings for it
    ("gemini-cli-mcp-client", "/plugins/image-relay-bridge", False),
])
async def test_the_plugin_settings_hint_appears_only_under_claude_codes_plugin(mcp_env, monkeypatch, client,
                                                                              plugin_root, hinted):
    from mcp.types import Implementation
    monkeypatch.setenv("IMAGE_RELAY_API_KEY", "")
    if plugin_root:
        monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", plugin_root)
    async with Client(server, client_info=Implementation(name=client, version="1")) as session:
        result = await session.call_tool("generate_image", {"prompt": "x"})
    text = result.content[0].text
    assert text.startswith("Image generation failed (config_missing): The relay's API key is not set: run "
                           "image-relay-setup in a terminal")
    assert "Next: Tell the user to run image-relay-setup" in text
    assert ("/plugin configure" in text) is hinted


async def test_the_show_the_tag_directive_is_where_every_client_reads_instructions():
    # Not only in the result: Gemini CLI marks tool results as untrusted data for its model.
    async with Client(server) as client:
        instructions = client.instructions
        [tool] = (await client.list_tools()).tools
    for text in (instructions, tool.description):
        assert "markdown image tag" in text and "put that tag in your reply" in text and "job_id" in text


SHARED_SERVER_MODULES = {"bridge.server.remote", "bridge.server.auth", "bridge.server.tokens", "bridge.server.callers",
                         "bridge.server.downloads"}


def test_a_stdio_server_loads_nothing_of_the_shared_server(mcp_env):
    """Its command line, a generation and a job_id call for the local user: no shared-server module."""
    script = (
        "import json, sys, anyio\n"
        "from mcp import Client\n"
        "import bridge.server.app as app\n"
        "assert app.parse_arguments(['--wait-default', '40']).transport == 'stdio'\n"
        "async def go():\n"
        "    async with Client(app.server) as client:\n"
        "        done = await client.call_tool('generate_image', {'prompt': 'a local fox'})\n"
        "        assert not done.is_error, done\n"
        "        await client.call_tool('generate_image', {'prompt': 'x', 'job_id': 'job_0123456789ab'})\n"
        "anyio.run(go)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('bridge.'))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, encoding="utf-8",
                          timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "bridge.server.calls" in loaded and not loaded & SHARED_SERVER_MODULES, loaded & SHARED_SERVER_MODULES


async def test_an_unknown_prompt_is_invalid_params_not_a_crash(caplog):
    from mcp.shared.exceptions import MCPError
    async with Client(server) as client:
        with pytest.raises(MCPError) as refused:
            await client.get_prompt("test_simple_prompt")
    assert refused.value.error.code == -32602 and "Unknown prompt" in refused.value.error.message
    assert "Traceback" not in caplog.text

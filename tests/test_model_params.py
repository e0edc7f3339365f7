"""moderation and input_fidelity from the MCP tool, the image tool's action, and progress from every image event."""
from __future__ import annotations

import re
import uuid

import pytest
from mcp import Client

from tests.clirun import run_cli
from tests.images import png

pytestmark = pytest.mark.anyio



@pytest.fixture
def server(relay_env, monkeypatch, tmp_path):
    import bridge.server.app as app
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    monkeypatch.setattr(app, "_JOBS", [])
    return app.server


def sent(emulator, marker: str) -> list:
    return [r for r in emulator.requests if marker.encode() in r.body]


async def test_moderation_reaches_the_relay_from_the_tool(server, emulator):
    marker = uuid.uuid4().hex
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": f"a storm at sea {marker}", "moderation": "low"})
        assert not result.is_error, result.content[0].text
        images = await client.call_tool("generate_image", {"prompt": f"a calm sea {marker}", "moderation": "low",
                                                           "api_mode": "images"})
        assert not images.is_error, images.content[0].text
    responses, generations = sent(emulator, marker)
    assert responses.path == "/v1/responses" and responses.json["tools"][0]["moderation"] == "low"
    assert generations.path == "/v1/images/generations" and generations.json["moderation"] == "low"


async def test_input_fidelity_reaches_the_relay_for_edits_and_follows_the_model_rules(server, emulator, tmp_path,
                                                                                      monkeypatch):
    source = tmp_path / "portrait.png"
    source.write_bytes(png(64, 48))
    marker = uuid.uuid4().hex
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": f"add glasses {marker}", "input_fidelity": "high",
                                                           "image_paths": [str(source)], "api_mode": "images"})
        assert not result.is_error, result.content[0].text
        monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-1-mini")
        refused = await client.call_tool("generate_image", {"prompt": f"add a hat {marker}", "size": "auto",
                                                            "input_fidelity": "high", "image_paths": [str(source)]})
    (edit,) = sent(emulator, marker)
    assert edit.path == "/v1/images/edits" and edit.form["input_fidelity"] == "high"
    assert refused.is_error and "(invalid_input): gpt-image-1-mini does not take input_fidelity" in \
        refused.content[0].text


async def test_schema_offers_both_with_their_values(server):
    async with Client(server) as client:
        props = (await client.list_tools()).tools[0].input_schema["properties"]
    assert {"auto", "low"} <= set(re.findall(r'"(\w+)"', str(props["moderation"]).replace("'", '"')))
    assert "gpt-image-1-mini" in props["input_fidelity"]["description"]


def test_the_image_tool_is_told_the_action(relay_env, emulator, tmp_path):
    marker = uuid.uuid4().hex
    source = tmp_path / "a.png"
    source.write_bytes(png(64, 48))
    assert run_cli(f"new {marker}").code == 0
    assert run_cli("--image", str(source), f"edited {marker}").code == 0
    generate, edit = sent(emulator, marker)
    assert generate.json["tools"][0]["action"] == "generate" and edit.json["tools"][0]["action"] == "edit"


def test_a_relay_that_rejects_action_gets_the_request_without_it(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="unknown-param", param="action", tag=tag))
    run = run_cli("a relay from last year")
    assert run.code == 0, run.stdout
    assert any("does not accept the parameter 'action'" in w for w in run.json["warnings"])
    first, second = [r for r in emulator.requests if r.options.get("tag") == tag]
    assert first.json["tools"][0]["action"] == "generate" and "action" not in second.json["tools"][0]


def test_progress_tells_each_image_event(relay_env, emulator):
    run = run_cli("--partial-images", "1", "a heron at dawn")
    assert run.code == 0, run.stdout
    lines = [re.sub(r"^\[progress\] \[[0-9.]+s\] ", "", line) for line in run.progress]
    told = [line for line in lines if not line.startswith(("Sending", "Connected", "Saved", "Final image"))]
    assert told == ["The relay accepted the job.", "The text model called the image tool.", "Image is rendering.",
                    "Partial image 1 of 1 received.", "The image is rendered; receiving it."]
    events = run.json["debug_summary"]["events"]
    assert events["response.image_generation_call.completed"] == 1
    assert events["response.image_generation_call.in_progress"] == 1


async def test_mcp_progress_counts_the_rendered_step(server, emulator):
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": "a kite", "partial_images": 1},
                                        progress_callback=on_progress)
    assert not result.is_error
    steps = {message: value for value, total, message in progress}
    assert all(total == 7 for _, total, _ in progress)  # connected, accepted, started, 1 partial, rendered, final, saved
    assert int(steps["The image is rendered; receiving it."]) == 5
    assert steps["The image is rendered; receiving it."] < min(v for m, v in steps.items() if m.startswith("Saved"))

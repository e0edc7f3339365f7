"""Clients that do not declare the tasks extension get generate_image's answer byte for byte as it
was before the extension existed (tests/fixtures/generate_image_results.json, recorded then), and
nothing of the 2025-11-25 experimental tasks is offered to anyone. Driven over stdio with the raw
client of tests/wire.py, so what is compared is the bytes on the pipe."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

import bridge
from bridge.system.uris import file_uri
from tests.wire import TASKS, Wire

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "generate_image_results.json").read_text(encoding="utf-8"))
CALL = {"name": "generate_image", "arguments": {"prompt": "a recorded fox", "size": "256x256"}}


def normal(raw: bytes, project: Path) -> tuple[str, list[bytes]]:
    """The answer as it was recorded (project, file stem, previews and version written as placeholders),
    and the previews' bytes."""
    text = raw.decode("utf-8").replace(file_uri(project), "<project>")  # the tag's target on Windows
    text = text.replace(json.dumps(str(project))[1:-1], "<project>")
    text = text.replace("<project>\\\\outputs\\\\", "<project>/outputs/")  # a Windows path, JSON-escaped
    text = re.sub(r"\d{8}-\d{6}-a-recorded-fox-[0-9a-f]{8}", "<stem>", text)
    previews = [base64.b64decode(m) for m in re.findall(r'"data":"([A-Za-z0-9+/=]+)"', text)]
    text = re.sub(r'"data":"[A-Za-z0-9+/=]+"', '"data":"<preview>"', text)
    return text.replace(f'"version":"{bridge.__version__}"', '"version":"<version>"'), previews


def check_preview(previews: list[bytes], project: Path) -> None:
    """The preview is exactly what the preview maker makes of the saved file (its bytes depend on Pillow)."""
    from bridge.images.pillow import preview
    saved = [p for p in (project / "outputs").glob("*a-recorded-fox*.png")]
    assert len(saved) == 1 and len(previews) == 1
    assert previews[0] == preview(str(saved[0]), 1024, 300_000).data


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_a_client_of_an_earlier_revision_gets_the_recorded_answer(mcp_env, version):
    with Wire(mcp_env) as wire:
        # Even one that names the extension in its handshake: the task shape cannot travel on that wire.
        init = wire.legacy(version, {"extensions": {TASKS: {}}})
        raw, _ = wire.request("tools/call", CALL)
    assert "tasks" not in init["capabilities"] and "extensions" not in init["capabilities"]
    text, previews = normal(raw, mcp_env)
    assert text == RECORDED["results"][version]
    check_preview(previews, mcp_env)


def test_a_2026_client_that_does_not_declare_tasks_gets_the_recorded_answer(mcp_env):
    with Wire(mcp_env) as wire:
        wire.discover({"roots": {"listChanged": True}, "elicitation": {"form": {}}})
        raw, _ = wire.request("tools/call", CALL)
    text, previews = normal(raw, mcp_env)
    assert text == RECORDED["results"]["2026-07-28"]
    check_preview(previews, mcp_env)

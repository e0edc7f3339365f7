"""A sentinel key through every fault and every mode: it must appear nowhere.

Not on stdout or stderr, not in raw logs, debug summaries, error messages, MCP results,
the user cache or any file the bridge writes. The relay's address never appears in a result.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest

from bridge.emulator.faults import ALL_FAULTS
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY
from tests.images import png

MODES = (["--api-mode", "responses"], ["--api-mode", "images"], ["--api-mode", "auto"],
         ["--api-mode", "images", "--partial-images", "1"], ["--api-mode", "responses", "--partial-images", "1"])
SKIP = {"stall", "buffered"}  # covered by the timeout tests; they take seconds each
HEADER_SECRET = "gw-SENTINEL-header-0123456789"


def _scan(root: Path) -> list[str]:
    leaks = []
    for path in root.rglob("*"):
        if path.is_file() and (SENTINEL_KEY.encode() in path.read_bytes() or HEADER_SECRET.encode() in path.read_bytes()):
            leaks.append(str(path))
    return leaks


@pytest.mark.parametrize("mode", MODES, ids=[" ".join(m) for m in MODES])
def test_sentinel_key_never_leaks_from_any_fault(relay_env, emulator, monkeypatch, tmp_path, mode):
    out = tmp_path / "out"
    source = tmp_path / "source.png"
    source.write_bytes(png(16, 16))
    host = f"127.0.0.1:{emulator.port}"
    monkeypatch.setenv("IMAGE_RELAY_EXTRA_HEADERS", json.dumps({"x-gateway-key": HEADER_SECRET}))
    for fault in sorted(ALL_FAULTS - SKIP):
        base = emulator.url(fault=fault, stall=0.2, tag=uuid.uuid4().hex[:8])
        monkeypatch.setenv("IMAGE_RELAY_BASE_URL", base)
        for extra in ([], ["--image", str(source)]):
            run = run_cli("--output-dir", str(out), "--timeout", "20", *mode, *extra, f"secret {fault}")
            channels = run.stdout + run.stderr
            assert SENTINEL_KEY not in channels and HEADER_SECRET not in channels, (fault, mode)
            assert host not in run.stdout and base not in channels, (fault, mode)
            assert run.code in (0, 2, 3, 4, 5, 6, 7, 9), (fault, run.stdout)
            json.loads(run.stdout)
    assert _scan(tmp_path) == []
    logs = list((out / "logs").glob("*.log"))
    assert logs and not any(host in log.read_text(encoding="utf-8") for log in logs)


def test_sentinel_key_never_leaks_from_the_mcp_server(relay_env, emulator, monkeypatch, tmp_path):
    from mcp import Client

    from bridge.server.app import server
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    texts = []

    async def run_all():
        async with Client(server) as client:
            for fault in ("http-401", "error-200", "http-502-html", "error-event-nested", "text-only", "drop"):
                monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault=fault, tag=uuid.uuid4().hex[:8]))
                result = await client.call_tool("generate_image", {"prompt": f"mcp secret {fault}"})
                texts.append(json.dumps(result.structured_content) + "".join(
                    getattr(block, "text", "") for block in result.content))
    anyio.run(run_all)
    assert not any(SENTINEL_KEY in text or f"127.0.0.1:{emulator.port}" in text for text in texts)
    assert _scan(tmp_path) == []


def test_error_objects_do_not_carry_the_key(relay_env, emulator, monkeypatch):
    from bridge import GenerationRequest, generate_image, load_settings
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-401", tag=uuid.uuid4().hex[:8]))
    result = generate_image(GenerationRequest(prompt="x"), load_settings())
    assert result.error["code"] == "unauthorized"
    assert SENTINEL_KEY not in repr(result) and SENTINEL_KEY not in json.dumps(result.to_dict())

"""The bridge through a real LiteLLM proxy (config-file mode, no database) in front of the emulator.

LiteLLM runs from a virtual environment of its own (``.ci/run`` makes it and sets IRB_LITELLM to
its ``litellm`` command). Without it these tests are skipped with that reason, except in CI,
where a missing proxy is a failure.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.clirun import run_cli

MASTER_KEY = "sk-litellm-master-SENTINEL-0123456789"
UPSTREAM_KEY = "sk-upstream-SENTINEL-9876543210abcdef"
RUN = uuid.uuid4().hex[:8]


def _litellm() -> str | None:
    named = os.environ.get("IRB_LITELLM")
    if named:
        return named if Path(named).is_file() else None
    cached = Path.home() / ".cache" / "image-relay-bridge-litellm" / "bin" / "litellm"
    return str(cached) if cached.is_file() else shutil.which("litellm")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# model name -> emulator options for its upstream (each tagged, so upstream calls can be counted)
DEPLOYMENTS = {
    "gpt-5": {}, "gpt-image-emulator": {}, "gpt-image-401": {"fault": "http-401"},
    "gpt-image-429": {"fault": "rate-limit"}, "gpt-image-502": {"fault": "http-502-html"},
    "gpt-5-502": {"fault": "http-502-html"},
    # LiteLLM as the converter: chat calls in, Gemini's native API out (the emulator's /v1beta route)
    "gemini-3-pro-image": {}, "gemini-safety": {"fault": "image-safety"},
}


@pytest.fixture(scope="module")
def litellm(emulator, tmp_path_factory):
    command = _litellm()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("LiteLLM is not installed (IRB_LITELLM); CI must run the gateway tests.")
        pytest.skip("LiteLLM proxy not installed: set IRB_LITELLM to its litellm command (.ci/run does).")
    work = tmp_path_factory.mktemp("litellm")
    lines = ["model_list:"]
    for name, options in DEPLOYMENTS.items():
        base = emulator.url(**options, tag=f"{RUN}-{name}")
        if name.startswith("gemini"):
            model, base = "gemini/gemini-3-pro-image", base + "beta"  # LiteLLM adds /models/{model}:generateContent
        else:
            model = "openai/" + ("gpt-5" if name.startswith("gpt-5") else "gpt-image-emulator")
        lines += [f"  - model_name: {name}",
                  f"    litellm_params: {{model: {model}, api_base: '{base}', api_key: {UPSTREAM_KEY},"
                  " max_retries: 0, num_retries: 0}"]
    # LiteLLM's retries bill again on top of the bridge's own: off, as docs/relays.md says.
    lines += ["litellm_settings:", "  num_retries: 0", "router_settings:", "  num_retries: 0",
              "general_settings:", f"  master_key: {MASTER_KEY}"]
    config = work / "config.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    port = _free_port()
    log = open(work / "litellm.log", "wb")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    proc = subprocess.Popen([command, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health/liveliness", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"LiteLLM did not start: {(work / 'litellm.log').read_text(encoding='utf-8')[-2000:]}")
            time.sleep(0.5)
    yield f"{base}/v1"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def through_litellm(litellm, relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", litellm)
    monkeypatch.setenv("IMAGE_RELAY_API_KEY", MASTER_KEY)
    monkeypatch.setenv("IMAGE_RELAY_DEFAULT_SIZE", "64x64")
    return litellm


def _upstream(emulator, name: str) -> list:
    """The generation requests LiteLLM sent upstream for one deployment (its own GET /models aside)."""
    return [r for r in emulator.requests if r.options.get("tag") == f"{RUN}-{name}" and r.method == "POST"]


def _clean(run, litellm_url: str) -> None:
    text = run.stdout + run.stderr
    for secret in (MASTER_KEY, UPSTREAM_KEY, litellm_url, litellm_url.split("//")[1].split("/")[0]):
        assert secret not in text
    if not run.json["ok"]:
        message = run.json["error"]["message"]
        assert "<" not in message and "sk-" not in message and "litellm." not in message, message


def test_responses_stream_with_partial_images(through_litellm, emulator):
    run = run_cli("--partial-images", "2", "a lighthouse through litellm")
    assert run.code == 0, run.stdout
    result = run.json
    assert result["api_mode"] == "responses" and result["actual_size"] == "64x64"
    assert len(result["partial_image_paths"]) == 2 and all(Path(p).is_file() for p in result["partial_image_paths"])
    assert any("Partial image 2 of 2" in line for line in run.progress)
    _clean(run, through_litellm)


def test_images_n2(through_litellm, emulator):
    run = run_cli("--api-mode", "images", "--n", "2", "two cats through litellm")
    assert run.code == 0, run.stdout
    assert len(run.json["image_paths"]) == 2 and len(set(run.json["image_paths"])) == 2
    assert run.json["warnings"] == []


def test_edit_with_two_images_and_a_mask(through_litellm, emulator, tmp_path):
    from PIL import Image
    paths = []
    for i, colour in enumerate(((200, 30, 30), (30, 200, 30))):
        path = tmp_path / f"source-{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        paths.append(str(path))
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.putpixel((3, 3), (0, 0, 0, 0))
    mask.save(tmp_path / "mask.png")
    before = len(_upstream(emulator, "gpt-image-emulator"))
    run = run_cli("--api-mode", "images", "--image", paths[0], "--image", paths[1], "--mask",
                  str(tmp_path / "mask.png"), "edit through litellm")
    assert run.code == 0, run.stdout
    sent = _upstream(emulator, "gpt-image-emulator")[before:]
    assert len(sent) == 1 and sent[0].path == "/v1/images/edits"
    names = [p.name for p in sent[0].files]
    assert names.count("image[]") == 2 and names.count("mask") == 1


@pytest.mark.parametrize("args, model, code, error_code, fragment, attempts", [
    (["--api-mode", "images", "--model", "gpt-image-401"], "gpt-image-401", 4, "upstream_unauthorized",
     "not IMAGE_RELAY_API_KEY", 1),
    (["--api-mode", "images", "--model", "gpt-image-429"], "gpt-image-429", 4, "rate_limited",
     "Rate limit reached", 3),  # 1 + the bridge's 2 billing-safe retries
    (["--api-mode", "images", "--model", "gpt-image-502"], "gpt-image-502", 5, "relay_error", "HTTP 502", 1),
    # The upstream's HTML page, which LiteLLM puts inside its JSON message
    (["--text-model", "gpt-5-502"], "gpt-5-502", 5, "relay_error", "HTML error page (HTTP 502, example.com | 502", 1),
])
def test_upstream_failures_through_litellm(through_litellm, emulator, args, model, code, error_code, fragment,
                                           attempts):
    before = len(_upstream(emulator, model))
    run = run_cli(*args, f"fails with {model}")
    assert run.code == code, run.stdout
    error = run.json["error"]
    assert error["code"] == error_code and fragment in error["message"], error
    if error_code == "upstream_unauthorized":
        assert "Check IMAGE_RELAY_API_KEY" not in error["message"]
    assert len(run.json["debug_summary"]["attempts"]) == attempts
    # LiteLLM's Images path keeps its SDK's 2 retries whatever the config says; the bridge adds none on 5xx.
    assert attempts <= len(_upstream(emulator, model)) - before <= 3 * attempts
    _clean(run, through_litellm)


def test_images_stream_fails_in_litellm_and_stream_false_works(through_litellm, emulator):
    before = len(_upstream(emulator, "gpt-image-emulator"))
    run = run_cli("--api-mode", "images", "--partial-images", "1", "streamed through litellm")
    assert run.code == 5 and "IMAGE_RELAY_STREAM=false" in run.json["error"]["message"], run.stdout
    assert len(_upstream(emulator, "gpt-image-emulator")) - before == 1  # num_retries: 0 holds: billed once
    _clean(run, through_litellm)
    run = run_cli("--api-mode", "images", "--partial-images", "1", "--stream", "false", "whole through litellm")
    assert run.code == 0, run.stdout
    assert any("IMAGE_RELAY_STREAM=false" in w for w in run.json["warnings"])
    assert "stream" not in _upstream(emulator, "gpt-image-emulator")[-1].json


def _doctor(*args: str) -> tuple[int, dict]:
    from bridge.doctor import main
    out = io.StringIO()
    code = main(["--json", *args], stdout=out)
    return code, json.loads(out.getvalue())


def test_doctor_through_litellm(through_litellm, monkeypatch):
    code, report = _doctor()
    assert code == 0 and report["ok"] and report["api_mode"] == "responses", report["verdict"]
    assert "gpt-image-emulator" in report["image_models"]
    monkeypatch.setenv("IMAGE_RELAY_API_KEY", "sk-not-the-master-key-000000")
    code, report = _doctor()
    assert code == 1 and not report["ok"] and "No connected db" in report["verdict"], report["verdict"]
    assert "master key" in report["verdict"] and report["routes"] == {}
    monkeypatch.setenv("IMAGE_RELAY_API_KEY", MASTER_KEY)
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-typo")
    code, report = _doctor()
    assert code == 1 and not report["ok"] and "gpt-image-typo" in report["verdict"] and "nearest" in report["verdict"]
    text = json.dumps(report)
    assert MASTER_KEY not in text and through_litellm not in text


def test_chat_mode_through_litellm_converting_to_gemini(through_litellm, emulator, monkeypatch):
    """LiteLLM turns the chat call into a Gemini call and answers with message.images. The bridge's
    literal extra_body (for new-api) is copied by LiteLLM into Google's request, where Google refuses
    the unknown field "google": that 400 is recovered from once, and remembered."""
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3-pro-image")
    monkeypatch.delenv("IMAGE_RELAY_DEFAULT_SIZE")
    before = len(_upstream(emulator, "gemini-3-pro-image"))
    run = run_cli("--api-mode", "chat", "--aspect-ratio", "16:9", "--resolution", "2K", "a banana through litellm")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "2752x1536" and run.json["api_mode"] == "chat"
    assert any("'extra_body'" in w for w in run.json["warnings"])
    attempts = run.json["debug_summary"]["attempts"]
    assert [a["outcome"] for a in attempts] == ["rejected", "ok"]
    sent = _upstream(emulator, "gemini-3-pro-image")[before:]
    assert [r.path for r in sent] == ["/v1beta/models/gemini-3-pro-image:generateContent"] * 2
    assert "google" in sent[0].json and "google" not in sent[1].json
    assert sent[1].json["generationConfig"]["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}
    assert sent[1].headers["x-goog-api-key"] == UPSTREAM_KEY and "key=" not in sent[1].query
    _clean(run, through_litellm)
    again = run_cli("--api-mode", "chat", "--aspect-ratio", "16:9", "--resolution", "2K", "--stream", "true",
                    "a streamed banana through litellm")
    assert again.code == 0 and again.json["actual_size"] == "2752x1536", again.stdout
    assert len(again.json["debug_summary"]["attempts"]) == 1  # remembered: no second 400
    assert _upstream(emulator, "gemini-3-pro-image")[-1].path.endswith(":streamGenerateContent")


def test_a_safety_block_through_litellm_is_one_request_and_content_policy(through_litellm, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-safety")
    before = len(_upstream(emulator, "gemini-safety"))
    run = run_cli("--api-mode", "chat", "a banana the filter stops through litellm")
    assert run.code == 4 and run.json["error"]["code"] == "content_policy", run.stdout
    assert len(_upstream(emulator, "gemini-safety")) - before == 1
    _clean(run, through_litellm)

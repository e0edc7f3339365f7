"""OpenRouter's Image API (POST {base}/images) in images mode, over real HTTP against the emulator:
found once when /images/generations is missing, remembered per relay, edits as input_references,
streamed when asked, a 502 that is not billed, and usage with cost."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bridge.images.sniff import read_info
from bridge.paths import user_cache_dir
from tests.clirun import run_cli
from tests.conftest import posted, tagged
from tests.images import png


@pytest.fixture
def openrouter_env(relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "google/gemini-3-pro-image")
    monkeypatch.delenv("IMAGE_RELAY_DEFAULT_SIZE")
    return relay_env


def test_a_relay_with_only_openrouters_images_works_in_images_mode_and_is_remembered(openrouter_env, emulator,
                                                                                      monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="openrouter-only")
    first = run_cli("--aspect-ratio", "16:9", "--resolution", "2K", "an openrouter heron")
    assert first.code == 0, first.stdout
    result = first.json
    assert result["api_mode"] == "images" and result["actual_size"] == "2752x1536"
    assert any("fell back to OpenRouter's Image API" in w for w in result["warnings"])
    assert result["usage"]["cost"] == 0.04
    missing, found = posted(emulator, tag)
    assert missing.path == "/v1/images/generations" and found.path == "/v1/images"
    assert found.json["aspect_ratio"] == "16:9" and found.json["resolution"] == "2K" and "size" not in found.json
    again = run_cli("--aspect-ratio", "16:9", "another openrouter heron")
    assert again.code == 0 and again.json["warnings"] == []
    assert [r.path for r in posted(emulator, tag)][2:] == ["/v1/images"]  # remembered: no 404 paid for again
    cache = json.dumps(json.loads((user_cache_dir() / "relay-routes.json").read_text(encoding="utf-8")))
    assert str(emulator.port) not in cache and "127.0.0.1" not in cache  # keyed by a hash, never the address


def test_an_edit_goes_as_input_references(openrouter_env, emulator, monkeypatch, tmp_path):
    source = tmp_path / "in.png"
    source.write_bytes(png(32, 32))
    tag = tagged(monkeypatch, emulator, fault="openrouter-only")
    run = run_cli("--image", str(source), "--aspect-ratio", "1:1", "make it dusk")
    assert run.code == 0, run.stdout
    body = posted(emulator, tag)[-1].json
    (reference,) = body["input_references"]
    assert reference["type"] == "image_url"
    assert base64.b64decode(reference["image_url"]["url"].split(",", 1)[1]) == source.read_bytes()


def test_a_streaming_model_streams_its_partial_and_completed_events(openrouter_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="openrouter-only")
    run = run_cli("--stream", "true", "--partial-images", "1", "--aspect-ratio", "1:1", "a streamed heron")
    assert run.code == 0, run.stdout
    assert posted(emulator, tag)[-1].json["stream"] is True
    assert len(run.json["partial_image_paths"]) == 1 and read_info(Path(run.json["image_path"]).read_bytes())
    assert run.json["usage"]["cost"] == 0.04


def test_openrouters_502_is_said_to_be_unbilled_and_tried_again(openrouter_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="openrouter-502", times=2)  # the 404, then one failed generation
    run = run_cli("--aspect-ratio", "1:1", "a heron that fails once")
    assert run.code == 0, run.stdout
    assert [r.path for r in posted(emulator, tag)] == ["/v1/images/generations", "/v1/images", "/v1/images"]
    assert any("HTTP 502; retrying" in line for line in run.progress), run.progress
    assert "The relay answered HTTP 502, and it was tried again: OpenRouter does not bill a generation that fails " \
           "with HTTP 502." in run.json["warnings"]


def test_openrouters_502_that_persists_is_one_clear_error(openrouter_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_MAX_RETRIES", "0")
    tag = tagged(monkeypatch, emulator, fault="openrouter-502")
    run = run_cli("--aspect-ratio", "1:1", "a heron that fails")
    assert run.code == 5, run.stdout
    error = run.json["error"]
    assert error["status_code"] == 502 and "OpenRouter does not bill" in error["message"] and error["retryable"]


def test_the_doctor_finds_openrouters_image_api_and_says_what_results_report(openrouter_env, emulator, monkeypatch):
    from tests.test_doctor import doctor
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-emulator")  # a model the emulator lists
    tag = tagged(monkeypatch, emulator, fault="openrouter-only")
    report = json.loads(doctor("--json")[1])
    assert report["ok"] and report["api_mode"] == "images", report["verdict"]
    assert report["routes"]["images/generations"] is False and report["routes"]["images (OpenRouter)"] is True
    assert "OpenRouter's Image API" in report["verdict"] and "cost" in report["usage_reported"]
    assert all(b"prompt" not in r.body for r in emulator.requests if r.options.get("tag") == tag)  # nothing drawn
    monkeypatch.setenv("IMAGE_RELAY_LANG", "zh-CN")
    text = doctor()[1]
    assert "结果中的用量（images 模式）" in text and "OpenRouter 的 Image API" in text

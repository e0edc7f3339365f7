"""chat mode over real HTTP against the emulator: each shape relays answer with, streamed and not,
the ratio reaching both kinds of relay, edits, and the answers without an image."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.images.sniff import read_info
from tests.clirun import run_cli
from tests.conftest import posted, tagged
from tests.images import png

SHAPES = ("images", "parts", "markdown", "link", "bare")


@pytest.fixture
def chat_env(gemini_model, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "chat")
    return gemini_model


@pytest.mark.parametrize("stream", ["false", "true"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_image_of_the_asked_shape(chat_env, emulator, monkeypatch, shape, stream):
    tag = tagged(monkeypatch, emulator, shape=shape)
    run = run_cli("--stream", stream, "--aspect-ratio", "16:9", f"a chat {shape} heron")
    assert run.code == 0, run.stdout
    result = run.json
    assert result["api_mode"] == "chat" and result["actual_size"] == "1376x768", result
    saved = Path(result["image_path"]).read_bytes()
    assert read_info(saved).size == "1376x768" and result["warnings"] == []
    (request,) = posted(emulator, tag)
    assert request.path == "/v1/chat/completions" and request.json["stream"] is (stream == "true")
    assert not list(Path(result["image_path"]).parent.glob(".*tmp*"))  # no temp file left behind


def test_a_streamed_markdown_image_is_one_delta_line_over_128_kib(chat_env, emulator, monkeypatch):
    tagged(monkeypatch, emulator, shape="markdown")
    run = run_cli("--stream", "true", "--aspect-ratio", "1:1", "a one-line heron")
    assert run.code == 0, run.stdout
    # new-api sends ![image](data:…) in one delta: that one SSE line carries the whole image's base64
    assert run.json["bytes"] * 4 // 3 > 131072
    log = Path(run.json["raw_log_path"]).read_text(encoding="utf-8")
    assert "![image](<base64 " in log and "iVBOR" not in log


def test_a_markdown_image_split_over_many_deltas_is_stitched(chat_env, emulator, monkeypatch):
    tagged(monkeypatch, emulator, shape="markdown", split=7, chunk=4096)
    run = run_cli("--stream", "true", "--aspect-ratio", "1:1", "a split heron")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "1024x1024" and len(run.json["image_paths"]) == 1


@pytest.mark.parametrize("reads", ["openrouter", "newapi"])
def test_the_ratio_reaches_openrouter_and_new_api_without_being_told_which(chat_env, emulator, monkeypatch, reads):
    tag = tagged(monkeypatch, emulator, reads=reads)
    run = run_cli("--aspect-ratio", "16:9", "--resolution", "2K", f"a wide heron for {reads}")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "2752x1536"
    (request,) = posted(emulator, tag)
    body = request.json
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}
    assert body["extra_body"] == {"google": {"image_config": {"aspect_ratio": "16:9", "image_size": "2K"}}}
    assert body["modalities"] == ["image", "text"]


def test_a_gateway_refusing_extra_body_is_retried_once_without_it_and_remembered(chat_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="extra-body-400")
    run = run_cli("--aspect-ratio", "16:9", "a heron behind litellm")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "1376x768"
    assert any("'extra_body'" in w for w in run.json["warnings"])
    first, second = posted(emulator, tag)
    assert "extra_body" in first.json and "extra_body" not in second.json and second.json["image_config"]
    again = run_cli("--aspect-ratio", "16:9", "another heron behind litellm")
    assert again.code == 0 and again.json["warnings"] == []
    assert len(posted(emulator, tag)) == 3  # remembered: no 400 to pay for again


def test_a_link_is_fetched_without_the_key(chat_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, shape="link")
    run = run_cli("a linked heron")
    assert run.code == 0, run.stdout
    fetched = [r for r in emulator.requests if r.method == "GET" and r.path.startswith("/files/")
               and r.options.get("tag") == tag]
    assert len(fetched) == 1 and "authorization" not in fetched[0].headers  # the emulator refuses keys on files


def test_an_edit_sends_the_images_and_the_mask_as_image_parts(chat_env, emulator, monkeypatch, tmp_path):
    (tmp_path / "photo.png").write_bytes(png(40, 30))
    (tmp_path / "mask.png").write_bytes(png(40, 30, alpha=True))
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"), "make it snow")
    assert run.code == 0, run.stdout
    (request,) = posted(emulator, tag)
    parts = request.json["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert "mask" in parts[0]["text"] and parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert run.json["actual_size"] == "1200x896"  # Gemini keeps the source's shape (4:3) when no ratio is asked


@pytest.mark.parametrize("fault, code, exit_code, words", [
    ("content-filter", "content_policy", 4, "rephrase the prompt"),
    ("text-only", "text_only", 7, "Generate an image of"),
    ("blocked-400", "content_policy", 4, "request blocked by Gemini API: PROHIBITED_CONTENT"),
])
def test_an_answer_without_an_image_is_one_request_and_one_error(chat_env, emulator, monkeypatch, fault, code,
                                                                 exit_code, words):
    tag = tagged(monkeypatch, emulator, fault=fault)
    run = run_cli("a heron the relay will not draw")
    assert run.code == exit_code, run.stdout
    assert run.json["error"]["code"] == code and words in run.json["error"]["message"]
    assert len(posted(emulator, tag)) == 1  # never retried: each try may be billed


def test_the_emulator_gives_a_first_image_in_chat_and_gemini_modes(monkeypatch):
    for mode in ("chat", "gemini"):
        run = run_cli("--emulator", "--api-mode", mode, "--no-open", "a first banana")
        assert run.code == 0, run.stdout
        assert run.json["api_mode"] == mode and run.json["model"] == "gemini-3.1-flash-image"


def test_chat_request_body_is_exact(chat_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator)
    run_cli("--no-template", "exact chat body")
    (request,) = posted(emulator, tag)
    assert request.json == {"model": "gemini-3-pro-image", "stream": False, "modalities": ["image", "text"],
                            "messages": [{"role": "user", "content": "exact chat body"}]}
    assert json.loads(request.body) == request.json and request.headers["authorization"].startswith("Bearer ")

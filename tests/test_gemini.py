"""gemini mode (Gemini's native API, "Nano Banana") over real HTTP against the emulator."""
from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

from bridge.images.sniff import read_info
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY, posted, tagged
from tests.images import png


@pytest.fixture
def gemini_env(gemini_model, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3-pro-image-preview")
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "gemini")
    return gemini_model


@pytest.mark.parametrize("stream", ["false", "true"])
@pytest.mark.parametrize("shape", ["camel", "snake"])
def test_16_9_at_2k_reaches_the_relay_as_image_config(gemini_env, emulator, monkeypatch, shape, stream):
    tag = tagged(monkeypatch, emulator, shape=shape)
    run = run_cli("--stream", stream, "--aspect-ratio", "16:9", "--resolution", "2K", f"a {shape} banana")
    assert run.code == 0, run.stdout
    assert run.json["api_mode"] == "gemini" and run.json["actual_size"] == "2752x1536"
    assert read_info(Path(run.json["image_path"]).read_bytes()).size == "2752x1536"
    (request,) = posted(emulator, tag)
    action = "streamGenerateContent" if stream == "true" else "generateContent"
    assert request.path == f"/v1beta/models/gemini-3-pro-image-preview:{action}"
    assert request.query == ("alt=sse" if stream == "true" else "")  # the key never rides in the URL
    assert request.json["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"],
                                                "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}
    assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    usage = run.json["usage"]  # normalized; the relay's own usageMetadata stays in the debug summary
    assert usage["output_tokens"] == usage["image_tokens"] == 1290 and usage["input_tokens"] > 0
    assert run.json["debug_summary"]["usage"]["candidatesTokenCount"] == 1290


def test_a_size_becomes_the_nearest_ratio_and_tier(gemini_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--size", "1920x1080", "a size for a ratio model")
    assert run.code == 0, run.stdout
    assert posted(emulator, tag)[0].json["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert any("1920x1080 was sent as 16:9 at 2K" in w for w in run.json["warnings"])


def test_the_key_as_x_goog_api_key_and_a_gemini_base_of_its_own(gemini_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", "http://relay.invalid/api")  # not ending in /v1: not derivable
    monkeypatch.setenv("IMAGE_RELAY_GEMINI_BASE_URL", emulator.url(tag=tag) + "beta")
    monkeypatch.setenv("IMAGE_RELAY_GEMINI_AUTH", "x-goog-api-key")
    run = run_cli("a banana by header")
    assert run.code == 0, run.stdout
    (request,) = posted(emulator, tag)
    assert request.headers["x-goog-api-key"] == SENTINEL_KEY and "authorization" not in request.headers
    assert str(emulator.port) not in run.stdout + run.stderr  # the Gemini base is a secret too


def test_without_a_derivable_gemini_base_the_setting_is_named(gemini_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", "http://relay.invalid/api")
    run = run_cli("a banana nowhere")
    assert run.code == 3 and "IMAGE_RELAY_GEMINI_BASE_URL" in run.json["error"]["message"]


def test_an_edit_sends_inline_data_and_the_mask_as_a_picture(gemini_env, emulator, monkeypatch, tmp_path):
    (tmp_path / "photo.png").write_bytes(png(40, 30))
    (tmp_path / "mask.png").write_bytes(png(40, 30, alpha=True))
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"), "paint it blue")
    assert run.code == 0, run.stdout
    parts = posted(emulator, tag)[0].json["contents"][0]["parts"]
    assert "mask" in parts[0]["text"] and [list(p) for p in parts[1:]] == [["inlineData"], ["inlineData"]]
    assert base64.b64decode(parts[1]["inlineData"]["data"]) == (tmp_path / "photo.png").read_bytes()
    mask = read_info(base64.b64decode(parts[2]["inlineData"]["data"]))
    assert mask.format == "png" and mask.size == "40x30"  # black and white: white marks the area to change
    assert run.json["actual_size"] == "1200x896"  # no ratio asked: the source's shape


def test_a_thought_image_is_kept_as_a_partial(gemini_env, emulator, monkeypatch):
    tagged(monkeypatch, emulator, thought=1)
    run = run_cli("--stream", "true", "a thoughtful banana")
    assert run.code == 0, run.stdout
    assert len(run.json["partial_image_paths"]) == 1 and len(run.json["image_paths"]) == 1


@pytest.mark.parametrize("fault, upstream", [("image-safety", "IMAGE_SAFETY"), ("prompt-blocked", "PROHIBITED_CONTENT"),
                                              ("no-candidates", None)])
def test_a_safety_block_is_one_request_and_a_content_policy_error(gemini_env, emulator, monkeypatch, fault, upstream):
    tag = tagged(monkeypatch, emulator, fault=fault)
    run = run_cli("a banana the filter stops")
    assert run.code == 4, run.stdout
    error = run.json["error"]
    assert error["code"] == "content_policy" and error.get("upstream_code") == upstream and not error["retryable"]
    assert "rephrase the prompt" in error["message"] and "Nothing was retried" in error["message"]
    assert len(posted(emulator, tag)) == 1  # each try may be billed: never repeated


def test_a_text_only_answer_carries_the_text(gemini_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="text-only")
    run = run_cli("a banana in words")
    assert run.code == 7 and run.json["error"]["code"] == "text_only"
    assert "I can describe that scene in words" in run.json["error"]["message"]
    assert len(posted(emulator, tag)) == 1


def test_inputs_over_the_models_limit_are_refused_before_sending(gemini_env, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-2.5-flash-image")
    tag = tagged(monkeypatch, emulator)
    paths = []
    for i in range(4):
        (tmp_path / f"{i}.png").write_bytes(png(8, 8))
        paths += ["--image", str(tmp_path / f"{i}.png")]
    run = run_cli(*paths, "too many references")
    assert run.code == 2 and "at most 3 input images" in run.json["error"]["message"]
    assert posted(emulator, tag) == []


@pytest.mark.parametrize("args, words", [
    (["--aspect-ratio", "7:3"], "does not take the aspect ratio 7:3"),
    (["--resolution", "4K", "--model", "gemini-2.5-flash-image"], "does not take the resolution 4K"),
    (["--size", "1024x1024", "--aspect-ratio", "1:1"], "either a size"),
])
def test_what_the_model_cannot_take_is_refused_before_sending(gemini_env, emulator, monkeypatch, args, words):
    tag = tagged(monkeypatch, emulator)
    run = run_cli(*args, "a refused banana")
    assert run.code == 2 and words in run.json["error"]["message"], run.stdout
    assert posted(emulator, tag) == []


def test_auto_picks_gemini_for_a_gemini_model_and_chat_when_the_relay_has_no_gemini_route(gemini_env, emulator,
                                                                                          monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "auto")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("an auto banana")
    assert run.code == 0 and run.json["api_mode"] == "gemini", run.stdout
    assert [r.path for r in posted(emulator, tag)] == ["/v1beta/models/gemini-3-pro-image-preview:generateContent"]
    tag = tagged(monkeypatch, emulator, fault="no-gemini-route")
    run = run_cli("an auto banana on a chat relay")
    assert run.code == 0 and run.json["api_mode"] == "chat", run.stdout
    assert any("fell back to Chat Completions" in w for w in run.json["warnings"])
    assert [r.path for r in posted(emulator, tag)] == ["/v1beta/models/gemini-3-pro-image-preview:generateContent",
                                                      "/v1/chat/completions"]


def test_a_relays_suffixed_name_is_known(gemini_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3.1-flash-image-preview-vip")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--aspect-ratio", "8:1", "--resolution", "512", "a banner")
    assert run.code == 0, run.stdout
    assert posted(emulator, tag)[0].json["generationConfig"]["imageConfig"] == {"aspectRatio": "8:1", "imageSize": "512"}


def test_several_images_are_calls_side_by_side_and_partials_are_said_to_be_absent(gemini_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--n", "2", "--partial-images", "1", "two bananas")
    assert run.code == 0, run.stdout
    assert len(run.json["image_paths"]) == 2 and len(posted(emulator, tag)) == 2  # one image per Gemini call
    assert run.json["warnings"] == ["Gemini's native API sends no partial images; only the final image will come."]

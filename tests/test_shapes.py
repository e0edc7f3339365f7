"""Aspect ratios, resolutions and sizes per model; Gemini model names; images found in message text;
the Responses API's Markdown fallback over real HTTP."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bridge.config import resolve_settings
from bridge.errors import InputError
from bridge.relay.fitting import fit
from bridge.relay.models import family, rule_for
from bridge.relay.styles import build_call
from bridge.relay.styles.text_images import images_in_parts, images_in_text, linked_images
from bridge.user_request import GenerationRequest, prepare_job
from tests.clirun import run_cli

RELAY = {"IMAGE_RELAY_BASE_URL": "http://relay/v1", "IMAGE_RELAY_API_KEY": "k", "IMAGE_RELAY_TEXT_MODEL": "gpt-5"}


def fitted(tmp_path, model: str, **request):
    settings = resolve_settings([("env", {**RELAY, "IMAGE_RELAY_IMAGE_MODEL": model})])
    job = prepare_job(GenerationRequest(prompt="a heron", **request), settings, base_dir=tmp_path)
    return fit(job, model, size_is_default=request.get("size") is None), settings


@pytest.mark.parametrize("model, ratio, tier, size", [
    ("gpt-image-2", "16:9", "2K", "2048x1152"),  # the tier is the long side
    ("gpt-image-2", "9:16", "2K", "1152x2048"),
    ("gpt-image-2", "16:9", "4K", "3840x2160"),  # 4096 is over the long-side limit: the nearest it takes
    ("gpt-image-2", "1:1", "4K", "2880x2880"),  # over the pixel limit
    ("gpt-image-2", "16:9", None, "2048x1152"),  # a ratio alone
    ("gpt-image-2", "4:3", None, "1024x768"),
    ("gpt-image-1.5", "16:9", "2K", "1536x1024"),  # a fixed list: the closest shape
    ("gpt-image-1", "9:16", None, "1024x1536"),
    ("gpt-image-2-all", "16:9", "2K", "2048x1152"),  # a relay's own model: what the ratio and tier describe
    ("gpt-image-2-all", "16:9", None, "1536x1024"),  # ... and a ratio alone: a size every GPT model takes
])
def test_a_ratio_and_tier_become_the_nearest_size_a_gpt_model_takes(tmp_path, model, ratio, tier, size):
    (job, notes), settings = fitted(tmp_path, model, aspect_ratio=ratio, resolution=tier)
    assert job.size == size and any(size in note for note in notes)
    assert build_call(job, settings, "images").json["size"] == size
    assert build_call(job, settings, "responses").json["tools"][0]["size"] == size


@pytest.mark.parametrize("size, ratio, tier", [
    ("1024x1024", "1:1", "1K"), ("1536x1024", "3:2", "2K"), ("1920x1080", "16:9", "2K"), ("1024x1536", "2:3", "2K"),
    ("3840x2160", "16:9", "4K"), ("2560x1080", "21:9", "2K"), ("1376x768", "16:9", "1K"),
])
def test_a_size_becomes_the_nearest_ratio_and_tier_for_gemini(tmp_path, size, ratio, tier):
    (job, notes), settings = fitted(tmp_path, "gemini-3-pro-image", size=size)
    assert (job.aspect_ratio, job.resolution) == (ratio, tier)
    config = build_call(job, settings, "gemini").json["generationConfig"]["imageConfig"]
    assert config == {"aspectRatio": ratio, "imageSize": tier}


def test_gemini_2_5_flash_has_one_resolution_and_sends_none(tmp_path):
    (job, _), settings = fitted(tmp_path, "gemini-2.5-flash-image", aspect_ratio="16:9")
    assert job.size == "1344x768" and job.resolution is None
    assert build_call(job, settings, "gemini").json["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}
    with pytest.raises(InputError, match="resolution 2K"):
        fitted(tmp_path, "gemini-2.5-flash-image", aspect_ratio="16:9", resolution="2K")


def test_a_resolution_in_the_name_is_the_default(tmp_path):
    (job, _), _ = fitted(tmp_path, "gemini-3.1-flash-image-4K", aspect_ratio="1:1")
    assert job.resolution == "4K" and job.size == "4096x4096"


@pytest.mark.parametrize("value, parsed", [("16:9", "16:9"), ("16：9", "16:9"), (" 1 : 1 ", "1:1")])
def test_ratios_are_read_as_people_write_them(tmp_path, value, parsed):
    (job, _), _ = fitted(tmp_path, "gemini-3-pro-image", aspect_ratio=value, resolution="1k")
    assert job.aspect_ratio == parsed and job.resolution == "1K"  # never a lowercase k: Google reads it as 512 px


@pytest.mark.parametrize("value", ["16x9", "wide", "0:1", "16:9:1"])
def test_a_bad_ratio_is_refused_before_anything_is_sent(tmp_path, value):
    with pytest.raises(InputError, match="aspect ratio"):
        fitted(tmp_path, "gemini-3-pro-image", aspect_ratio=value)


def test_configured_defaults_apply_and_a_call_outranks_them(tmp_path):
    settings = resolve_settings([("env", {**RELAY, "IMAGE_RELAY_IMAGE_MODEL": "gemini-3-pro-image",
                                          "IMAGE_RELAY_DEFAULT_SIZE": "1024x1536",
                                          "IMAGE_RELAY_DEFAULT_ASPECT_RATIO": "16:9",
                                          "IMAGE_RELAY_DEFAULT_RESOLUTION": "2k"})])
    job = prepare_job(GenerationRequest(prompt="x"), settings, base_dir=tmp_path)
    assert (job.size, job.aspect_ratio, job.resolution) == ("auto", "16:9", "2K")
    job = prepare_job(GenerationRequest(prompt="x", aspect_ratio="1:1"), settings, base_dir=tmp_path)
    assert (job.aspect_ratio, job.resolution) == ("1:1", "2K")
    job = prepare_job(GenerationRequest(prompt="x", size="1536x1024"), settings, base_dir=tmp_path)
    assert (job.size, job.aspect_ratio, job.resolution) == ("1536x1024", None, None)


@pytest.mark.parametrize("name, known", [
    ("gemini-3-pro-image", "gemini-3-pro-image"), ("gemini-3-pro-image-preview", "gemini-3-pro-image"),
    ("google/gemini-3-pro-image-preview", "gemini-3-pro-image"), ("gemini-3-pro-image-preview-vip", "gemini-3-pro-image"),
    ("Gemini-3.1-Flash-Image-2K", "gemini-3.1-flash-image"), ("nano-banana-pro", "gemini-3-pro-image"),
    ("models/gemini-2.5-flash-image", "gemini-2.5-flash-image"),
    ("gemini-2.5-flash-image-preview-09-2025", "gemini-2.5-flash-image"), ("nano-banana", "gemini-2.5-flash-image"),
    ("gemini-3-pro", None), ("gemini-2.5-pro", None), ("gpt-image-2-vip", None),
])
def test_gemini_names_match_as_relays_sell_them(name, known):
    rule = rule_for(name)
    assert (rule.name if rule else None) == known


@pytest.mark.parametrize("name, kind", [("gemini-4-flash-image-beta", "gemini"), ("nano banana 3", "gemini"),
                                        ("gpt-image-2", "gpt"), ("gemini-3-pro", None), ("flux-pro", None)])
def test_the_family_picks_auto_mode(name, kind):
    assert family(name) == kind


# -- the finder: images a relay writes where text goes ------------------------------------------------


def test_inline_images_win_over_links():
    text = "Here it is ![image](__irb_payload_3__) and [download](https://cdn.example/a.png)"
    assert images_in_text(text) == (["__irb_payload_3__"], True)
    assert images_in_text("data:image/png;base64,iVBORw0KGgo=") == (["data:image/png;base64,iVBORw0KGgo="], True)


@pytest.mark.parametrize("text, links", [
    ("\n\n> 🎨 生成中...\n\n[点击下载](https://pro.filesystem.site/cdn/download/20260424/e77ed2.png)",
     ["https://pro.filesystem.site/cdn/download/20260424/e77ed2.png"]),
    ("![image](https://r.example/x?sig=1)", ["https://r.example/x?sig=1"]),  # a Markdown image needs no extension
    ("Done: https://r.example/out/a.webp?X-Tos-Expires=86400.", ["https://r.example/out/a.webp?X-Tos-Expires=86400"]),
    ("[查看原图](https://r.example/view/123)", ["https://r.example/view/123"]),
    ("See https://example.com/docs and [the guide](https://example.com/guide)", []),  # not images
])
def test_links_to_images(text, links):
    assert linked_images(text) == links


def test_parts_and_images_arrays():
    parts = [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "__irb_payload_1__"}},
             {"type": "image", "image": {"base64": "__irb_payload_2__"}}, {"type": "image_url", "image_url": "https://a/b"},
             {"type": "output_image", "url": "https://a/c.png"}, "junk", {"type": "text", "url": "https://not/me.png"}]
    assert images_in_parts(parts) == ["__irb_payload_1__", "__irb_payload_2__", "https://a/b", "https://a/c.png"]


# -- the Responses API on a Gemini model: the image is Markdown in the output_text -------------------


@pytest.mark.parametrize("stream", ["true", "false"])
def test_responses_markdown_fallback(relay_env, emulator, monkeypatch, stream):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(shape="markdown", tag=tag))
    run = run_cli("--stream", stream, "a heron drawn by a converted model")
    assert run.code == 0, run.stdout
    assert run.json["api_mode"] == "responses" and run.json["actual_size"] == "64x48"
    assert len(run.json["image_paths"]) == 1 and Path(run.json["image_path"]).is_file()

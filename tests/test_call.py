import base64

import pytest

from bridge.config import resolve_settings
from bridge.user_request import GenerationRequest, prepare_job
from bridge.relay.styles import build_call
from tests.images import png

RELAY = {"IMAGE_RELAY_BASE_URL": "http://relay/v1", "IMAGE_RELAY_API_KEY": "k",
         "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-1.5"}


def settings(**extra):
    return resolve_settings([("env", {**RELAY, **extra})])


def job(tmp_path, s=None, **kw):
    return prepare_job(GenerationRequest(**{"prompt": "a red fox", **kw}), s or settings(), base_dir=tmp_path)


def test_responses_generation_body_is_exact(tmp_path):
    call = build_call(job(tmp_path, size="1024x1536", partial_images=2), settings(), "responses")
    assert call.path == "/responses" and call.stream
    assert call.json == {
        "model": "gpt-5", "stream": True, "input": "a red fox",
        "tools": [{"type": "image_generation", "model": "gpt-image-1.5", "action": "generate", "size": "1024x1536",
                   "quality": "high", "background": "auto", "output_format": "png", "partial_images": 2}],
        "tool_choice": {"type": "image_generation"}}


def test_output_compression_only_for_jpeg_and_webp(tmp_path):
    png_call = build_call(job(tmp_path, output_compression=50), settings(), "images")
    assert "output_compression" not in png_call.json
    webp_call = build_call(job(tmp_path, output_format="webp", output_compression=50), settings(), "images")
    assert webp_call.json["output_compression"] == 50


def test_images_generation_body_is_exact_and_never_sends_response_format(tmp_path):
    call = build_call(job(tmp_path, n=2, moderation="low"), settings(), "images")
    assert call.path == "/images/generations" and not call.stream
    assert call.json == {"model": "gpt-image-1.5", "prompt": "a red fox", "n": 2, "size": "auto", "quality": "high",
                         "background": "auto", "output_format": "png", "moderation": "low"}


def test_images_stream_when_partials_requested(tmp_path):
    call = build_call(job(tmp_path, partial_images=1), settings(), "images")
    assert call.stream and call.json["stream"] is True and call.json["partial_images"] == 1


def test_compat_policy_adds_negative_prompt_and_seed(tmp_path):
    compat = settings(IMAGE_RELAY_REQUEST_POLICY="compat")
    j = job(tmp_path, compat, negative_prompt="blur", seed=7)
    assert build_call(j, compat, "images").json["negative_prompt"] == "blur"
    tool = build_call(j, compat, "responses").json["tools"][0]
    assert tool["negative_prompt"] == "blur" and tool["seed"] == 7
    plain = job(tmp_path, negative_prompt="blur", seed=7)
    assert "negative_prompt" not in build_call(plain, settings(), "images").json
    assert "seed" not in build_call(plain, settings(), "responses").json["tools"][0]


def test_template_applied_unless_disabled(tmp_path):
    templated = settings(IMAGE_RELAY_DEFAULT_PROMPT_TEMPLATE="Style: {prompt}!")
    assert build_call(job(tmp_path, templated), templated, "images").json["prompt"] == "Style: a red fox!"
    assert build_call(job(tmp_path, templated, use_template=False), templated, "images").json["prompt"] == "a red fox"


def _files(tmp_path, *names):
    paths = []
    for i, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(png(8, 8, (i * 40, 0, 0), alpha=name.startswith("m")))
        paths.append(str(path))
    return paths


def test_edit_multipart_single_image_and_mask(tmp_path):
    image, mask = _files(tmp_path, "cat photo.png", "mask.png")
    call = build_call(job(tmp_path, image_paths=(image,), mask_path=mask, input_fidelity="high"), settings(), "images")
    assert call.path == "/images/edits" and call.json is None
    assert call.fields == [("model", "gpt-image-1.5"), ("prompt", "a red fox"), ("n", "1"), ("size", "auto"),
                           ("quality", "high"), ("background", "auto"), ("output_format", "png"),
                           ("input_fidelity", "high")]
    assert [(p, f, m) for p, f, _, m in call.files] == [("image", "cat photo.png", "image/png"),
                                                         ("mask", "mask.png", "image/png")]
    assert call.files[0][2] == (tmp_path / "cat photo.png").read_bytes()


def test_edit_multipart_several_images_use_image_brackets_and_sniffed_type(tmp_path):
    a, b = _files(tmp_path, "a.png", "b.jpg")  # b.jpg holds PNG bytes: the type comes from the bytes
    call = build_call(job(tmp_path, image_paths=(a, b), partial_images=2), settings(), "images")
    assert [(p, f, m) for p, f, _, m in call.files] == [("image[]", "a.png", "image/png"),
                                                         ("image[]", "b.png", "image/png")]
    assert ("stream", "true") in call.fields and ("partial_images", "2") in call.fields


def test_responses_edit_uses_input_image_data_urls_and_mask(tmp_path):
    image, mask = _files(tmp_path, "a.png", "m.png")
    call = build_call(job(tmp_path, image_paths=(image,), mask_path=mask), settings(), "responses")
    content = call.json["input"][0]["content"]
    assert content[0] == {"type": "input_text", "text": "a red fox"}
    data = base64.b64encode((tmp_path / "a.png").read_bytes()).decode()
    assert content[1] == {"type": "input_image", "image_url": f"data:image/png;base64,{data}", "detail": "auto"}
    mask_data = base64.b64encode((tmp_path / "m.png").read_bytes()).decode()
    assert call.json["tools"][0]["input_image_mask"] == {"image_url": f"data:image/png;base64,{mask_data}"}
    assert call.json["tools"][0]["action"] == "edit"


def test_dropped_parameters_are_left_out(tmp_path):
    call = build_call(job(tmp_path), settings(), "responses", dropped=frozenset({"background", "action"}))
    assert "background" not in call.json["tools"][0] and "action" not in call.json["tools"][0]

"""The Images API as relays really serve it, over real HTTP against the emulator: vendor fields from
the model table (Seedream, Jimeng, Grok, Nano Banana resellers), JSON edits, linked results that
expire, base64 with a data: header, extra body fields, per-image errors, and usage."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bridge.images.sniff import read_info
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY, posted, tagged
from tests.images import png


@pytest.fixture
def images_env(relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    monkeypatch.delenv("IMAGE_RELAY_DEFAULT_SIZE")
    return relay_env


def _files(emulator, tag):
    return [r for r in emulator.requests if r.options.get("tag") == tag and r.path.startswith("/files/")]


# -- Seedream and Jimeng: JSON image on /images/generations, sizes as they take them -------------------

def test_a_seedream_edit_sends_json_image_and_saves_the_linked_result_without_the_key(images_env, emulator,
                                                                                     monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "doubao-seedream-4-5-251128")
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(png(32, 32))
    second.write_bytes(png(40, 30))
    tag = tagged(monkeypatch, emulator, filehost="localhost")
    run = run_cli("--image", str(first), "--image", str(second), "--aspect-ratio", "16:9",
                  "--extra-body", '{"watermark": false}', "put the coat of figure 2 on figure 1")
    assert run.code == 0, run.stdout
    (request,) = posted(emulator, tag)
    assert request.path == "/v1/images/generations" and request.headers["content-type"] == "application/json"
    body = request.json
    assert [base64.b64decode(url.split(",", 1)[1]) for url in body["image"]] == [first.read_bytes(),
                                                                                  second.read_bytes()]
    assert body["size"] == "2560x1440" and body["watermark"] is False  # Seedream's own 16:9 at 2K
    assert not {"quality", "background", "output_format", "n"} & set(body)  # OpenAI's fields Ark does not take
    (download,) = _files(emulator, tag)
    assert download.method == "GET" and "authorization" not in download.headers
    assert SENTINEL_KEY not in json.dumps(dict(download.headers))
    assert download.headers["host"].startswith("localhost:")  # the file host, apart from the relay
    assert run.json["actual_size"] == "2560x1440" and read_info(Path(run.json["image_path"]).read_bytes())
    assert run.json["usage"] == {"output_tokens": 14400, "image_tokens": 14400}  # Seedream reports output tokens


def test_size_2k_is_a_resolution_for_seedream(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "doubao-seedream-4-0-250828")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--size", "2K", "a seedream square")
    assert run.code == 0, run.stdout
    assert posted(emulator, tag)[0].json["size"] == "2K" and run.json["actual_size"] == "2048x2048"
    wxh = run_cli("--size", "1728x2304", "a seedream portrait")
    assert wxh.code == 0 and posted(emulator, tag)[1].json["size"] == "1728x2304"


@pytest.mark.parametrize("model, one", [("seedream-4.0", str), ("jimeng-4.0", list)])
def test_seedream_and_jimeng_edits_never_go_multipart(images_env, emulator, monkeypatch, tmp_path, model, one):
    """The emulator refuses them on /images/edits, as relays that route them to the JSON endpoint do."""
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", model)
    source = tmp_path / "in.png"
    source.write_bytes(png(32, 32))
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--image", str(source), "--size", "1280x720", "an edit")
    assert run.code == 0, run.stdout
    (request,) = posted(emulator, tag)
    assert request.path == "/v1/images/generations" and request.headers["content-type"] == "application/json"
    assert isinstance(request.json["image"], one)  # Seedream: one image is a data URL; Jimeng: always a list


def test_several_seedream_images_come_as_a_sequential_set(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "doubao-seedream-4-0-250828")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--n", "2", "--size", "1280x720", "two frames of a story")
    assert run.code == 0, run.stdout
    body = posted(emulator, tag)[0].json
    assert body["sequential_image_generation"] == "auto" and body["sequential_image_generation_options"] == {
        "max_images": 2}
    assert len(run.json["image_paths"]) == 2


@pytest.mark.parametrize("args, sent", [
    (["--size", "1024*1024"], {"size": "1024*1024"}),
    (["--aspect-ratio", "16:9", "--resolution", "2K"], {"ratio": "16:9", "resolution": "2k"}),
])
def test_jimeng_takes_star_sizes_or_ratio_and_resolution(images_env, emulator, monkeypatch, args, sent):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "jimeng-4.0")
    tag = tagged(monkeypatch, emulator)
    run = run_cli(*args, "a jimeng lake")
    assert run.code == 0, run.stdout
    body = posted(emulator, tag)[0].json
    assert {k: body.get(k) for k in sent} == sent and "quality" not in body


def test_grok_gets_aspect_ratio_and_resolution_and_no_size(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "grok-imagine-image")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--aspect-ratio", "16:9", "--resolution", "2K", "a grok skyline")
    assert run.code == 0, run.stdout
    body = posted(emulator, tag)[0].json
    assert body["aspect_ratio"] == "16:9" and body["resolution"] == "2k" and "size" not in body


def test_nano_banana_resellers_get_aspect_ratio_and_image_size_on_the_images_api(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3-pro-image-preview")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--aspect-ratio", "16:9", "--resolution", "2K", "a banana on the images api")
    assert run.code == 0, run.stdout
    body = posted(emulator, tag)[0].json
    assert body["aspect_ratio"] == "16:9" and body["image_size"] == "2K" and run.json["actual_size"] == "2752x1536"


# -- extra body fields ---------------------------------------------------------------------------------

def test_extra_body_from_the_environment_reaches_every_request_and_merges_objects(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_EXTRA_BODY", '{"watermark": false, "metadata": {"team": "art"}}')
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-emulator")
    tag = tagged(monkeypatch, emulator)
    run = run_cli("--size", "64x48", "with extras")
    assert run.code == 0, run.stdout
    body = posted(emulator, tag)[0].json
    assert body["watermark"] is False and body["metadata"] == {"team": "art"} and body["prompt"] == "with extras"


@pytest.mark.parametrize("value", ['{"prompt": "x"}', '{"model": "other"}', '{"image": "data:,"}', '[1]', "{nope"])
def test_extra_body_that_would_replace_the_call_is_refused_before_sending(images_env, emulator, monkeypatch, value):
    tag = tagged(monkeypatch, emulator)
    flag = run_cli("--extra-body", value, "x")
    assert flag.code == 2 and flag.json["error"]["message"].startswith("--extra-body ")
    monkeypatch.setenv("IMAGE_RELAY_EXTRA_BODY", value)
    env = run_cli("x")
    assert env.code == 3 and "IMAGE_RELAY_EXTRA_BODY" in env.json["error"]["message"]
    assert env.json["error"]["message"].count(".") <= 2  # one sentence
    assert [r for r in emulator.requests if r.options.get("tag") == tag] == []


# -- links ---------------------------------------------------------------------------------------------

def test_an_expired_link_says_the_image_was_billed_and_keeps_the_link(images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="expired-link", filehost="localhost")
    run = run_cli("--size", "64x48", "a picture behind an expired link")
    assert run.code == 5, run.stdout
    error = run.json["error"]
    assert error["code"] == "link_expired" and error["status_code"] == 403 and error["retryable"] is False
    assert "it is billed" in error["message"] and "Request has expired" in error["message"]
    (link,) = error["image_urls"]
    signature = link.rsplit("X-Tos-Signature=", 1)[1]
    assert link.startswith("http://localhost:") and len(signature) == 64  # whole: a signature is not redacted
    assert SENTINEL_KEY not in run.stdout + run.stderr
    log = Path(run.json["raw_log_path"]).read_text(encoding="utf-8")
    assert f"image link: {link}" in log and SENTINEL_KEY not in log
    assert len(posted(emulator, tag)) == 1 and len(_files(emulator, tag)) == 1  # one try, nothing again


def test_a_json_error_under_an_image_content_type_is_a_billed_link_failure(images_env, emulator, monkeypatch):
    tag = tagged(monkeypatch, emulator, fault="json-link")
    run = run_cli("--size", "64x48", "a picture behind a broken link")
    assert run.code == 5, run.stdout
    error = run.json["error"]
    assert error["code"] == "link_failed" and "The file is not available" in error["message"]
    assert "it is billed" in error["message"] and len(error["image_urls"]) == 1
    # A link on the relay's own host keeps its path, but never the relay's address.
    assert "[redacted]" in error["image_urls"][0] and str(emulator.port) not in error["image_urls"][0]
    assert len(posted(emulator, tag)) == 1


def test_a_shared_servers_job_never_fetches_a_private_link_even_from_a_private_relay(relay_env):
    from dataclasses import replace
    from bridge.config import load_settings
    from bridge.errors import ProtocolError
    from bridge.relay.transport import CancelToken, download
    from bridge.emulator import start_emulator
    with start_emulator() as em:
        url = em._publish(png(8, 8), f"127.0.0.1:{em.port}")
        settings = replace(load_settings(), base_url=em.base_url)
        assert download(url, settings, limit=1 << 20, cancel=CancelToken()).startswith(b"\x89PNG")
        with pytest.raises(ProtocolError) as info:
            download(url, replace(settings, shared=True), limit=1 << 20, cancel=CancelToken())
    assert info.value.code == "unsafe_link" and "private" in info.value.message


# -- base64 with a data: header ---------------------------------------------------------------------------

@pytest.mark.parametrize("stream", ["false", "true"])
def test_b64_json_with_a_data_header_is_decoded(images_env, emulator, monkeypatch, stream):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-emulator")
    tagged(monkeypatch, emulator, fault="prefixed-b64", chunk=7)
    run = run_cli("--stream", stream, "--size", "64x48", "a replicate heron")
    assert run.code == 0, run.stdout
    assert read_info(Path(run.json["image_path"]).read_bytes()).size == "64x48"


# -- per-image errors ---------------------------------------------------------------------------------------

def test_a_per_item_error_is_one_clear_error_and_no_retry(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-emulator")
    tag = tagged(monkeypatch, emulator, fault="item-error")
    run = run_cli("--size", "64x48", "a sensitive picture")
    assert run.code == 4, run.stdout
    error = run.json["error"]
    assert error["code"] == "content_policy" and error["upstream_code"] == "OutputImageSensitiveContentDetected"
    assert "rephrase" in error["message"] and len(posted(emulator, tag)) == 1


def test_one_failed_image_of_several_is_a_warning(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-emulator")
    tagged(monkeypatch, emulator, fault="item-error")
    run = run_cli("--n", "2", "--size", "64x48", "two pictures, one blocked")
    assert run.code == 0, run.stdout
    assert len(run.json["image_paths"]) == 1
    assert any("1 of the images asked for failed (OutputImageSensitiveContentDetected)" in w
               for w in run.json["warnings"])


def test_seedreams_streamed_partial_failed_is_content_policy(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "doubao-seedream-4-0-250828")
    tag = tagged(monkeypatch, emulator, fault="partial-failed")
    run = run_cli("--stream", "true", "--size", "1280x720", "a blocked stream")
    assert run.code == 4, run.stdout
    assert run.json["error"]["code"] == "content_policy" and len(posted(emulator, tag)) == 1


def test_seedreams_stream_gives_each_image_as_it_is_done(images_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "doubao-seedream-4-0-250828")
    tagged(monkeypatch, emulator)
    run = run_cli("--stream", "true", "--n", "2", "--size", "1280x720", "a streamed set")
    assert run.code == 0, run.stdout
    assert len(run.json["image_paths"]) == 2 and run.json["partial_image_paths"] == []
    assert run.json["usage"]["output_tokens"] == 2 * 1280 * 720 // 256

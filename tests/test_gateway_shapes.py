"""Gateway-shaped answers and gateway settings: wrapped pages, foreign keys quoted back, extra
headers and the stream setting. Units from byte transcripts, then end to end over real HTTP."""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from bridge.config import parse_headers, resolve_settings
from bridge.errors import ConfigError, scrub_credentials
from bridge.relay.diagnose import error_from_body, error_from_payload
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY

PAGE = ('<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
        '<head><title>relay.example | 502: Bad gateway</title></head><body><h1>Bad gateway</h1></body></html>')
TAG = re.compile(r"</?[A-Za-z!][^<>]*>")


@pytest.mark.parametrize("status, body", [
    # LiteLLM: the upstream page inside its own error message
    (502, {"error": {"message": f"litellm.BadGatewayError: BadGatewayError: OpenAIException - {PAGE}",
                     "type": None, "param": None, "code": "502"}}),
    # Portkey
    (500, {"html-message": PAGE}),
    # nested deeper, as some gateways re-wrap
    (500, {"error": {"message": json.dumps({"error": {"message": PAGE}})}}),
])
def test_wrapped_pages_become_status_and_title(status, body):
    error = error_from_body(status, "application/json", json.dumps(body).encode())
    assert error.code == "relay_error" and error.exit_code == 5
    assert "502: Bad gateway" in error.message and not TAG.search(error.message), error.message


def test_tags_in_relay_text_never_reach_a_message():
    error = error_from_payload({"message": "<b>Invalid</b> <script>x</script> size"}, 400)
    assert not TAG.search(error.message) and "Invalid" in error.message


@pytest.mark.parametrize("text", [
    "Incorrect API key provided: sk-upstream-a1b2c3d4e5f6g7h8.",
    "Incorrect API key provided: sk-proj-**********************Q1w2.",
    "auth failed for Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
    "token 0123456789abcdef0123456789abcdef0123 rejected",
])
def test_credential_shapes_are_scrubbed_whoever_sent_them(text):
    error = error_from_payload({"message": text, "code": "invalid_api_key"}, 401)
    assert "[redacted]" in error.message
    for shape in ("sk-upstream-a1", "sk-proj-*", "eyJhbGci", "0123456789abcdef0123"):
        assert shape not in error.message


def test_object_ids_and_file_names_are_kept():
    text = "resp_0123456789abcdef0123456789abcdef01 in 20261201-101500-a-cat-0a1b2c3d-partial-1.png"
    assert scrub_credentials(text) == text


def test_upstream_401_does_not_blame_the_users_key():
    message = ("litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided: "
               "sk-upstr-9f8e7d6c5b4a3928. You can find your API key at https://platform.openai.com/account/api-keys.")
    error = error_from_payload({"message": message, "code": "401"}, 401)
    assert error.code == "upstream_unauthorized" and "not IMAGE_RELAY_API_KEY" in error.message
    assert "Check IMAGE_RELAY_API_KEY" not in error.message and "sk-upstr" not in error.message
    plain = error_from_payload({"message": "Incorrect API key provided: sk-x1234567.", "code": "invalid_api_key"}, 401)
    assert plain.code == "unauthorized" and "Check IMAGE_RELAY_API_KEY" in plain.message


@pytest.mark.parametrize("raw, expected", [
    ('{"x-portkey-provider": "openai", "x-portkey-custom-host": "http://h/v1"}',
     {"x-portkey-provider": "openai", "x-portkey-custom-host": "http://h/v1"}),
    ('{"x-portkey-config": {"provider": "openai"}}', {"x-portkey-config": '{"provider": "openai"}'}),
    ("api-key: abc123", {"api-key": "abc123"}),
    ("A: 1; B: two words", {"A": "1", "B": "two words"}),
    ("A: 1\nB=2", {"A": "1", "B": "2"}),
])
def test_extra_header_forms(raw, expected):
    assert parse_headers(raw) == expected


@pytest.mark.parametrize("raw", ['{"a": 1', "[1, 2]", "no separator", '{"bad name": "x"}', '{"a": "x\\r\\nInjected: 1"}'])
def test_bad_extra_headers_are_one_sentence_config_errors(raw):
    with pytest.raises(ConfigError) as info:
        resolve_settings([("the environment", {"IMAGE_RELAY_EXTRA_HEADERS": raw})])
    assert info.value.message.startswith("IMAGE_RELAY_EXTRA_HEADERS from the environment") and info.value.exit_code == 3


def test_extra_header_values_are_secrets():
    settings = resolve_settings([("env", {"IMAGE_RELAY_EXTRA_HEADERS": '{"x-portkey-api-key": "pk-live-secret-value"}'})])
    assert "pk-live-secret-value" in settings.secrets


def _sent(emulator, tag):
    return [r for r in emulator.requests if r.options.get("tag") == tag]


def test_extra_headers_reach_the_relay_but_not_image_links_nor_output(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="url-result", tag=tag))
    monkeypatch.setenv("IMAGE_RELAY_EXTRA_HEADERS", '{"x-gateway-token": "gw-SENTINEL-header-value"}')
    run = run_cli("--api-mode", "images", "--header", "x-portkey-provider: openai-SENTINEL", "headers")
    assert run.code == 0, run.stdout
    post, download = _sent(emulator, tag)
    assert post.method == "POST" and post.headers["x-portkey-provider"] == "openai-SENTINEL"
    assert post.headers.get("x-gateway-token") is None  # the flag's layer wins over the environment as a whole
    assert download.method == "GET" and "x-portkey-provider" not in download.headers
    assert "Authorization" not in download.headers
    log = Path(run.json["raw_log_path"]).read_text(encoding="utf-8")
    for secret in ("openai-SENTINEL", SENTINEL_KEY):
        assert secret not in run.stdout + run.stderr + log


def test_a_key_in_an_api_key_header_alone_is_enough(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-401", tag=tag))
    monkeypatch.delenv("IMAGE_RELAY_API_KEY")
    monkeypatch.setenv("IMAGE_RELAY_EXTRA_HEADERS", json.dumps({"api-key": SENTINEL_KEY}))
    run = run_cli("azure style")
    request = _sent(emulator, tag)[0]
    assert request.headers["api-key"] == SENTINEL_KEY and "authorization" not in {k.lower() for k in request.headers}
    # The emulator's 401 quotes the key it got: it must not come back out.
    assert run.code == 4 and SENTINEL_KEY not in run.stdout + run.stderr


def test_stream_false_responses_mode(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    monkeypatch.setenv("IMAGE_RELAY_STREAM", "false")
    run = run_cli("--partial-images", "2", "not streamed")
    assert run.code == 0, run.stdout
    body = _sent(emulator, tag)[0].json
    assert body["stream"] is False and "partial_images" not in body["tools"][0]
    assert any("IMAGE_RELAY_STREAM=false" in w for w in run.json["warnings"])
    stages = " ".join(run.progress)
    assert "Connected" in stages and "Final image received" in stages and "Saved" in stages


def test_stream_false_images_mode_with_partials_and_a_heartbeat(relay_env, emulator, monkeypatch):
    import bridge.core
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="buffered", stall=1.2, tag=tag))
    monkeypatch.setattr(bridge.core, "HEARTBEAT_SECONDS", 0.3)
    run = run_cli("--api-mode", "images", "--stream", "false", "--partial-images", "1", "slow whole answer")
    assert run.code == 0, run.stdout
    body = _sent(emulator, tag)[0].json
    assert "stream" not in body and "partial_images" not in body
    assert any("Waiting for the relay's answer" in line for line in run.progress)


def test_stream_true_streams_images_without_partials(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    run = run_cli("--api-mode", "images", "--stream", "true", "streamed anyway")
    assert run.code == 0 and _sent(emulator, tag)[0].json["stream"] is True


def test_a_streamed_call_that_fails_like_a_gateway_names_the_setting(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-500-json", tag=uuid.uuid4().hex[:8]))
    run = run_cli("x")
    assert run.code == 5 and "IMAGE_RELAY_STREAM=false" in run.json["error"]["message"]
    run = run_cli("--stream", "false", "x")
    assert run.code == 5 and "IMAGE_RELAY_STREAM" not in run.json["error"]["message"]

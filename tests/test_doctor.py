"""image-relay-doctor against the emulator: settings with sources, reachability, routes, verdict."""
from __future__ import annotations

import io
import json
import uuid

from bridge.doctor import main
from bridge.paths import user_config_file
from tests.conftest import SENTINEL_KEY


def doctor(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), stdout=out)
    return code, out.getvalue()


def test_healthy_relay_recommends_responses(relay_env, emulator):
    code, text = doctor()
    assert code == 0
    assert "IMAGE_RELAY_API_KEY" in text and "set  [the environment]" in text
    assert "http://<host hidden>/v1" in text and str(emulator.port) not in text and SENTINEL_KEY not in text
    assert "gpt-image-1.5" in text and "IMAGE_RELAY_API_MODE=responses" in text


def test_json_report(relay_env, emulator):
    code, text = doctor("--json")
    report = json.loads(text)
    assert report["ok"] and report["api_mode"] == "responses"
    assert report["routes"] == {"responses": True, "images/generations": True, "images/edits": True,
                                "chat/completions": True}
    assert {"variable": "IMAGE_RELAY_TEXT_MODEL", "value": "gpt-5", "source": "the environment"} in report["settings"]


def test_relay_without_responses_route_gets_images_mode(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="no-responses-route", tag=uuid.uuid4().hex[:8]))
    report = json.loads(doctor("--json")[1])
    assert report["api_mode"] == "images" and report["routes"]["responses"] is False


def test_probes_generate_nothing(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    doctor("--json")
    sent = [r for r in emulator.requests if r.options.get("tag") == tag]
    assert [r.path for r in sent] == ["/v1/models", "/v1/responses", "/v1/images/generations", "/v1/images/edits",
                                      "/v1/chat/completions"]
    assert all(b"prompt" not in r.body and b"input" not in r.body and b'"content"' not in r.body for r in sent)


def test_web_page_base_url(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="html-200", tag=uuid.uuid4().hex[:8]))
    code, text = doctor()
    assert code == 1 and "web page" in text and "/v1" in text


def test_refused_key_is_named_and_never_shown(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-401", tag=uuid.uuid4().hex[:8]))
    code, text = doctor("--json")
    assert code == 1 and "refused the API key" in text and SENTINEL_KEY not in text


def test_unreachable_relay(relay_env, monkeypatch):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", f"http://127.0.0.1:{port}/v1")
    code, text = doctor()
    assert code == 1 and "cannot be reached" in text and str(port) not in text


def test_missing_settings_name_the_config_file():
    code, text = doctor()
    assert code == 1 and "IMAGE_RELAY_BASE_URL" in text and str(user_config_file()) in text


def test_the_same_error_everywhere_is_the_verdict_not_a_route(relay_env, emulator, monkeypatch):
    # LiteLLM without a database answers an unknown key with one 400 on every path.
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="same-400", tag=uuid.uuid4().hex[:8]))
    code, text = doctor("--json")
    report = json.loads(text)
    assert code == 1 and report["ok"] is False and report["api_mode"] is None
    assert "No connected db" in report["verdict"] and "master key" in report["verdict"]
    assert "offers" not in report["verdict"]


def test_a_failing_model_list_is_the_verdict(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="models-500", tag=uuid.uuid4().hex[:8]))
    code, text = doctor()
    assert code == 1 and "GET /models answered HTTP 500" in text and "try again later" in text


def test_misspelled_models_get_the_nearest_names(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-imagge-1.5")
    code, text = doctor("--json")
    report = json.loads(text)
    assert code == 1 and report["ok"] is False
    assert "IMAGE_RELAY_IMAGE_MODEL=gpt-imagge-1.5 is not among the relay's models" in report["verdict"]
    assert "nearest: " in report["verdict"] and "gpt-image-1.5" in report["verdict"]
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-1.5")
    monkeypatch.setenv("IMAGE_RELAY_TEXT_MODEL", "gpt-5-mimi")
    report = json.loads(doctor("--json")[1])
    assert not report["ok"] and "IMAGE_RELAY_TEXT_MODEL=gpt-5-mimi" in report["verdict"] and "gpt-5-mini" in report["verdict"]


def test_a_gateway_that_wants_its_own_headers_is_told_so():
    from bridge.doctor import _failed_verdict
    verdict = _failed_verdict("GET /models", 400, "The relay rejected the request (HTTP 400): Either x-portkey-config "
                              "or x-portkey-provider header is required.")
    assert "IMAGE_RELAY_EXTRA_HEADERS" in verdict


def test_gzip_and_extra_headers_reach_the_probes(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(encoding="gzip", tag=tag))
    monkeypatch.setenv("IMAGE_RELAY_EXTRA_HEADERS", '{"x-portkey-provider": "provider-SENTINEL"}')
    code, text = doctor("--json")
    assert code == 0 and json.loads(text)["api_mode"] == "responses"
    sent = [r for r in emulator.requests if r.options.get("tag") == tag]
    assert len(sent) == 5 and all(r.headers.get("x-portkey-provider") == "provider-SENTINEL" for r in sent)
    assert "provider-SENTINEL" not in text and "x-portkey-provider (value hidden)" in text


def test_a_gemini_model_gets_gemini_mode_and_chat_without_a_gemini_route(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3-pro-image-preview")
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    code, text = doctor("--json")
    report = json.loads(text)
    assert code == 0 and report["api_mode"] == "gemini" and report["routes"]["gemini"] is True, report["verdict"]
    assert "IMAGE_RELAY_API_MODE=gemini" in report["verdict"]
    (probe,) = [r for r in emulator.requests if r.options.get("tag") == tag and r.path.startswith("/v1beta/")]
    assert probe.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent" and probe.json == {}
    assert probe.query == "" and probe.headers["authorization"] == f"Bearer {SENTINEL_KEY}"
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="no-gemini-route", tag=uuid.uuid4().hex[:8]))
    report = json.loads(doctor("--json")[1])
    assert report["api_mode"] == "chat" and report["routes"]["gemini"] is False
    assert "IMAGE_RELAY_API_MODE=chat" in report["verdict"]


def test_the_chat_route_is_probed_for_every_model(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="no-responses-route", tag=uuid.uuid4().hex[:8]))
    report = json.loads(doctor("--json")[1])
    assert report["routes"]["chat/completions"] is True and report["api_mode"] == "images"

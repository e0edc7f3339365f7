"""image-relay-doctor against the emulator: settings with sources, reachability, routes, verdict."""
from __future__ import annotations

import io
import json
import uuid

from bridge.doctor import main
from bridge.doctor.view import MARKS
from bridge.paths import user_config_file
from tests.conftest import SENTINEL_KEY

OK, FAIL = MARKS["ok"], MARKS["fail"]  # √ and X on Windows


def doctor(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), stdout=out)
    return code, out.getvalue()


def test_healthy_relay_recommends_responses(relay_env, emulator):
    code, text = doctor("--verbose")
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
    from bridge.doctor.probes import failed_verdict
    verdict = failed_verdict("GET /models", 400, "The relay rejected the request (HTTP 400): Either x-portkey-config "
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


def test_nothing_configured_leads_with_the_checklist_and_the_verdict():
    code, text = doctor()
    lines = text.splitlines()
    assert code == 1 and lines[0].startswith("[!] Config file: none yet at ")
    assert lines[2].startswith(f"[{FAIL}] Relay address and key: IMAGE_RELAY_BASE_URL and IMAGE_RELAY_API_KEY not set")
    assert lines[3].strip().startswith("→ Run image-relay-setup")
    assert lines[4].startswith("[-] Not checked: Relay reachable, Key accepted")
    verdict = next(i for i, line in enumerate(lines) if line.startswith("Verdict: not ready. Set IMAGE_RELAY_BASE_URL"))
    assert verdict <= 7 and "IMAGE_RELAY_DEFAULT_QUALITY" not in text  # the settings wait for --verbose
    assert "--verbose" in lines[-1]


def test_the_checklist_names_each_check_in_order_and_verbose_adds_the_settings(relay_env, emulator):
    code, text = doctor()
    marks = [line[:3] + line[4:].split(":")[0] for line in text.splitlines() if line.startswith("[")]
    assert marks == ["[!]Config file", *(f"[{OK}]{title}" for title in (
        "Relay address and key", "Relay reachable", "Key accepted", "Models offered", "Image routes", "API mode",
        "Configured models", "Default size"))]
    assert text.splitlines()[-2].startswith("Verdict: ready. The relay offers the Responses and Images APIs")
    assert "IMAGE_RELAY_TIMEOUT" not in text
    code, verbose = doctor("--verbose")
    assert "IMAGE_RELAY_TIMEOUT" in verbose and "570.0  [default]" in verbose and "What the relay answered:" in verbose
    assert verbose.index(f"[{OK}] Configured models") < verbose.index("Settings (value") < verbose.index("Verdict: ready")


def test_a_failure_skips_what_depends_on_it_and_json_keeps_the_checklist(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-401", tag=uuid.uuid4().hex[:8]))
    code, text = doctor("--json")
    report = json.loads(text)
    status = {line["check"]: line["status"] for line in report["checklist"]}
    assert status == {"config_file": "warn", "relay_settings": "ok", "relay_reachable": "ok", "key_accepted": "fail",
                      "models_offered": "skipped", "image_routes": "skipped", "api_mode": "skipped",
                      "configured_models": "skipped", "default_size": "skipped"}
    failed = next(line for line in report["checklist"] if line["status"] == "fail")
    assert failed["fix"].startswith("Check IMAGE_RELAY_API_KEY") and report["verdict"].startswith("The relay refused")
    assert {"variable": "IMAGE_RELAY_LANG", "value": "en", "source": "the environment"} in report["settings"]


def test_a_configured_mode_the_relay_cannot_serve_is_a_warning_with_its_fix(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="no-responses-route", tag=uuid.uuid4().hex[:8]))
    code, text = doctor()
    assert code == 0 and "[!] API mode: use images; IMAGE_RELAY_API_MODE=responses needs a route the relay lacks" in text
    assert "→ Set IMAGE_RELAY_API_MODE=images." in text


def test_images_mode_without_an_image_model_is_not_ready(relay_env, emulator, monkeypatch):
    monkeypatch.delenv("IMAGE_RELAY_IMAGE_MODEL")
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="no-responses-route", tag=uuid.uuid4().hex[:8]))
    code, text = doctor()
    assert code == 1 and f"[{FAIL}] Configured models: IMAGE_RELAY_IMAGE_MODEL not set" in text


def test_a_check_is_one_function_in_the_list(relay_env, emulator, monkeypatch):
    from bridge.doctor import CHECKS, check
    from bridge.doctor.report import warned

    @check("Stand-in check")
    def stand_in(visit):
        return warned(f"saw the mode {visit.report.api_mode}", "nothing to do")
    try:
        code, text = doctor()
    finally:
        CHECKS.remove(("stand_in", "Stand-in check", stand_in))
    assert code == 0 and "[!] Stand-in check: saw the mode responses\n    → nothing to do" in text


def test_chinese_when_chosen_and_the_json_stays_english(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_LANG", "zh-CN")
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-imagge-1.5")
    code, text = doctor()
    assert code == 1 and f"[{OK}] 中转站可连接：GET /models 返回 HTTP 200" in text
    assert (f"[{FAIL}] 配置的模型：IMAGE_RELAY_IMAGE_MODEL=gpt-imagge-1.5 不在中转站的模型列表中（最接近的：gpt-image-1.5"
            in text)
    assert "结论：还不能使用。" in text and " the relay" not in text and "Verdict" not in text and "Not checked" not in text
    assert json.loads(doctor("--json")[1])["verdict"].startswith("IMAGE_RELAY_IMAGE_MODEL=gpt-imagge-1.5 is not among")
    monkeypatch.setenv("IMAGE_RELAY_LANG", "en")
    assert "Verdict: not ready." in doctor()[1]


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

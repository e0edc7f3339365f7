"""The fault matrix: each relay behaviour of upstream-protocol.md, end to end over real HTTP.

Each row names a fault mode of the emulator and asserts the exit code, the error code, a piece
of the message, and what is left on disk.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from bridge.result import markdown_image
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY

# fault, extra CLI args, exit code, error code (None on success), message fragment or warning fragment
MATRIX = [
    ("http-400-json", [], 4, "rejected", "Invalid value for size"),
    ("http-401", [], 4, "unauthorized", "Check IMAGE_RELAY_API_KEY"),
    ("moderation", [], 4, "moderation_blocked", "safety system"),
    ("quota", [], 4, "quota_exceeded", "out of quota"),
    ("http-500-json", [], 5, "relay_error", "HTTP 500"),
    ("http-502-html", [], 5, "relay_error", "HTTP 502 with an HTML error page"),
    ("http-524-html", [], 5, "proxy_timeout", "HTTP 524), but the relay may still be making the image"),
    ("html-200", [], 5, "html_page", "instead of the API"),
    ("error-200", [], 4, "rejected", "upstream 400"),
    ("error-sse-content-type", [], 4, "rejected", "Invalid prompt"),
    ("error-event-flat", [], 5, "relay_error", "The server had an error"),
    ("error-event-nested", [], 4, "quota_exceeded", "no credits remaining"),
    ("error-data-only", [], 5, "relay_error", "Upstream request failed"),
    ("response-failed", [], 5, "relay_error", "failed"),
    ("response-failed-moderation", [], 4, "moderation_blocked", "safety system"),
    ("response-incomplete", [], 4, "moderation_blocked", "content filter"),
    ("item-failed", [], 4, "moderation_blocked", "safety system"),
    ("text-only", [], 7, "text_only", "I can't create that image"),
    ("bad-image", [], 7, "bad_image", "not a PNG"),
    ("invalid-base64", [], 7, "bad_image", "not valid base64"),
    ("no-final", [], 9, "stream_broken", "partial image"),
    ("cut-after-partial", [], 9, "stream_broken", "partial image"),
    ("cut-mid-final", [], 9, "stream_broken", "partial image"),
    ("big-event-cut", ["--size", "256x256"], 7, "truncated_event", "64 KiB"),
    ("processing-102", [], 7, "processing_102", "102 Processing"),
    ("drop", [], 6, "connection_closed", "closed it without answering"),
    ("no-responses-route", [], 4, "rejected", "HTTP 404"),
    ("edits-501", ["--api-mode", "images", "--image", "{png}"], 4, "not_implemented", "501"),
    # gateways and hostile relays
    ("gateway-html-json", [], 5, "relay_error", "HTML error page (HTTP 502, example.com | 502: Bad gateway)"),
    ("gateway-html-message", [], 5, "relay_error", "HTML error page"),
    ("gateway-upstream-401", [], 4, "upstream_unauthorized", "not IMAGE_RELAY_API_KEY"),
    ("same-400", [], 4, "rejected", "No connected db"),
    ("huge-dims", [], 7, "bad_image", "claims 100000x100000 pixels"),
    ("truncated-png", [], 7, "bad_image", "incomplete or corrupt (PNG"),
    ("truncated-png", ["--partial-images", "1"], 7, "bad_image", "best partial image"),
    ("file-link", ["--api-mode", "images"], 7, "unsafe_link", "image link the relay returned is not an http(s) link"),
    ("endless-line", [], 7, "too_large", "larger than 8 MB"),
    ("endless-image", [], 7, "too_large", "larger than 64 MB"),
    ("gzip-bomb", ["--api-mode", "images"], 7, "too_large", "after decompression"),
    ("redirect", [], 4, "redirected", "update IMAGE_RELAY_BASE_URL"),
    # relay quirks that must still give an image
    ("leading-whitespace", ["--api-mode", "images"], 0, None, None),
    ("json-for-stream", [], 0, None, None),
    ("json-for-stream", ["--api-mode", "images", "--partial-images", "1"], 0, None, None),
    ("no-event-lines", [], 0, None, None),
    ("keepalive", [], 0, None, None),
    ("crlf", [], 0, None, None),
    ("cr", [], 0, None, None),
    ("bom", [], 0, None, None),
    ("status-generating", [], 0, None, None),
    ("final-in-completed-only", [], 0, None, None),
    ("url-result", ["--api-mode", "images"], 0, None, None),
    ("url-result", ["--api-mode", "images", "--partial-images", "1"], 0, None, None),
    ("data-url-result", ["--api-mode", "images"], 0, None, None),
    ("downscale", ["--size", "64x64"], 0, None, "instead of the requested 64x64"),
    ("n-downgrade", ["--api-mode", "images", "--n", "2"], 0, None, "1 of the 2 images"),
    ("no-responses-route", ["--api-mode", "auto"], 0, None, "fell back to the Images API"),
    ("rate-limit", ["times=1"], 0, None, None),
    ("http-503-retry-after", ["times=1"], 0, None, None),
]


def _images(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")] if directory.exists() else []


@pytest.mark.parametrize("fault, args, code, error_code, fragment", MATRIX,
                         ids=[f"{row[0]}{'-' + '-'.join(a for a in row[1] if a.startswith('--')) if row[1] else ''}"
                              for row in MATRIX])
def test_fault_matrix(relay_env, emulator, monkeypatch, tmp_path, fault, args, code, error_code, fragment):
    options = {"fault": fault, "tag": uuid.uuid4().hex[:8]}
    args = list(args)
    if "times=1" in args:
        args.remove("times=1")
        options["times"] = 1
    source = tmp_path / "source.png"
    from tests.images import png
    source.write_bytes(png(16, 16))
    args = [str(source) if a == "{png}" else a for a in args]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(**options))
    out = tmp_path / "out"
    run = run_cli("--output-dir", str(out), "--partial-images", "1", *args, f"fault {fault}") \
        if "--partial-images" not in args and fault in ("no-final", "cut-after-partial", "cut-mid-final") else \
        run_cli("--output-dir", str(out), *args, f"fault {fault}")
    result = run.json
    assert run.code == code, (run.stdout, run.stderr)
    # Whatever went wrong, no temp file outlives the run (a rejected final could be 64 MiB).
    assert not [p.name for p in (out.iterdir() if out.exists() else ()) if p.name.endswith(".tmp")]
    assert SENTINEL_KEY not in run.stdout + run.stderr
    for secret in (emulator.url(**options), f"127.0.0.1:{emulator.port}"):
        assert secret not in run.stdout
    if code == 0:
        assert result["ok"] and Path(result["image_path"]).is_file()
        if fragment:
            assert any(fragment in w for w in result["warnings"]), result["warnings"]
        return
    error = result["error"]
    assert result["ok"] is False and error["code"] == error_code
    assert fragment in error["message"], error["message"]
    assert len(error["message"]) < 500 and not re.search(r"</?[a-z!][^>]*>", error["message"], re.I)
    assert not re.search(r"\bsk-[A-Za-z0-9]", error["message"]), error["message"]
    assert f"image-relay-generate: error: {error['message']}" in run.stderr
    finals = [p for p in _images(out) if "-partial-" not in p.name]
    if code == 9:
        assert result["complete"] is False
        assert Path(result["image_path"]).is_file() and "-partial-" in result["image_path"]
        assert result["markdown_image"].endswith(markdown_image(result["image_path"]).split("](", 1)[1])
        assert result["partial_image_paths"] and not finals
        from bridge.images.integrity import check_image
        check_image(Path(result["image_path"]))  # the kept partial is whole
    else:
        assert not finals and "image_path" not in result
    log = Path(result["raw_log_path"]).read_text(encoding="utf-8")
    assert SENTINEL_KEY not in log and str(emulator.port) not in log


def test_quota_is_never_retried(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="quota", tag=tag))
    assert run_cli("x").code == 4
    assert len([r for r in emulator.requests if r.options.get("tag") == tag]) == 1


def test_rate_limit_retries_then_reports(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="rate-limit", tag=tag))
    run = run_cli("x")
    assert run.code == 4 and run.json["error"]["code"] == "rate_limited" and run.json["error"]["retryable"]
    assert len([r for r in emulator.requests if r.options.get("tag") == tag]) == 3  # 1 + IMAGE_RELAY_MAX_RETRIES
    assert len([line for line in run.progress if "retrying in 0.2 s" in line]) == 2
    assert len(run.json["debug_summary"]["attempts"]) == 3


def test_server_errors_are_not_replayed_unless_asked(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-500-json", times=1, tag=tag))
    assert run_cli("x").code == 5
    monkeypatch.setenv("IMAGE_RELAY_RETRY_SERVER_ERRORS", "true")
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-500-json", times=1, tag=tag))
    assert run_cli("x").code == 0


def test_connection_refused_is_retried_then_exit_6(relay_env, monkeypatch):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("IMAGE_RELAY_MAX_RETRIES", "1")
    run = run_cli("x")
    assert run.code == 6 and run.json["error"]["code"] == "cannot_connect"
    assert "connection refused" in run.json["error"]["message"] and f":{port}" not in run.stdout + run.stderr
    assert len([line for line in run.progress if "retrying" in line]) == 1


def test_relay_that_goes_quiet_hits_the_idle_timeout(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="stall", stall=5, tag=uuid.uuid4().hex[:8]))
    monkeypatch.setenv("IMAGE_RELAY_IDLE_TIMEOUT", "0.5")
    run = run_cli("x")
    assert run.code == 6 and run.json["error"]["code"] == "idle_timeout"
    assert "stopped sending" in run.json["error"]["message"]


def test_relay_that_buffers_everything_is_named(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="buffered", stall=5, tag=uuid.uuid4().hex[:8]))
    monkeypatch.setenv("IMAGE_RELAY_IDLE_TIMEOUT", "0.5")
    run = run_cli("x")
    assert run.code == 6 and "buffering the whole answer" in run.json["error"]["message"]


def test_total_deadline(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="keepalive", delay=0.3, tag=uuid.uuid4().hex[:8]))
    run = run_cli("--timeout", "0.5", "x")
    assert run.code == 6 and run.json["error"]["code"] == "deadline"


def test_unknown_parameter_is_dropped_once_and_remembered(relay_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="unknown-param", param="background", tag=tag))
    run = run_cli("x")
    assert run.code == 0, run.stdout
    assert any("does not accept the parameter 'background'" in w for w in run.json["warnings"])
    assert len([r for r in emulator.requests if r.options.get("tag") == tag]) == 2
    again = run_cli("y")
    assert again.code == 0 and len([r for r in emulator.requests if r.options.get("tag") == tag]) == 3

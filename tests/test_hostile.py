"""Broken and hostile relays end cleanly: compression, drips, caps, links, redirects, signals,
leftovers and messages that say what really happened. End to end over real HTTP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY


def _tagged(emulator, **options):
    tag = uuid.uuid4().hex[:8]
    return emulator.url(tag=tag, **options), tag


def _sent(emulator, tag):
    return [r for r in emulator.requests if r.options.get("tag") == tag]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
@pytest.mark.parametrize("args", [[], ["--partial-images", "2"], ["--api-mode", "images"],
                                  ["--api-mode", "images", "--partial-images", "1"]])
def test_compressed_answers_are_decoded(relay_env, emulator, monkeypatch, encoding, args):
    url, tag = _tagged(emulator, encoding=encoding)
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", url)
    run = run_cli(*args, "compressed")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "64x48" and Path(run.json["image_path"]).stat().st_size == run.json["bytes"]
    if "--partial-images" in args:
        assert run.json["partial_image_paths"]
    request = _sent(emulator, tag)[0]
    streamed = "--partial-images" in args or "--api-mode" not in args
    # Streams ask for no compression (a gzipping proxy would hold SSE back); JSON asks for what is decoded.
    assert request.headers.get("accept-encoding") == ("identity" if streamed else "gzip, deflate")


def test_compressed_error_body_and_linked_image(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(encoding="gzip", fault="http-400-json"))
    run = run_cli("x")
    assert run.code == 4 and "Invalid value for size" in run.json["error"]["message"]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(encoding="gzip", fault="url-result"))
    run = run_cli("--api-mode", "images", "x")
    assert run.code == 0 and run.json["output_format"] == "png"


def test_headers_dripped_byte_by_byte_end_at_the_deadline(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(drip=1, tag=uuid.uuid4().hex[:8]))
    started = time.monotonic()
    run = run_cli("--timeout", "3", "x")
    elapsed = time.monotonic() - started
    assert run.code == 6 and run.json["error"]["code"] == "deadline", run.stdout
    assert "3 s" in run.json["error"]["message"] and elapsed < 5


def test_dripping_image_link_ends_at_the_deadline(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="url-result", filedrip=1, tag=uuid.uuid4().hex[:8]))
    started = time.monotonic()
    run = run_cli("--api-mode", "images", "--timeout", "3", "x")
    assert run.code == 6 and run.json["error"]["code"] == "deadline" and time.monotonic() - started < 5


def test_idle_message_names_the_wait_that_really_elapsed(relay_env, emulator, monkeypatch):
    # The total deadline (2 s) is shorter than the idle timeout (270 s): the message must say 2 s.
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="stall", stall=10, tag=uuid.uuid4().hex[:8]))
    run = run_cli("--api-mode", "images", "--timeout", "2", "x")
    assert run.code == 6 and "270" not in run.json["error"]["message"]


def test_post_redirect_is_not_followed(relay_env, emulator, monkeypatch):
    url, tag = _tagged(emulator, fault="redirect")
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", url)
    before = len(emulator.requests)
    run = run_cli("x")
    assert run.code == 4 and run.json["error"]["code"] == "redirected" and "307" in run.json["error"]["message"]
    assert len(emulator.requests) == before + 1  # the Location (which would answer with an image) was not asked


def test_stale_temp_files_are_removed_fresh_ones_kept(relay_env, emulator, monkeypatch, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".20260101-000000-old-0a1b2c3d.4242.deadbeef.tmp"
    fresh = out / ".20260101-000000-new-0a1b2c3d.4343.cafebabe.tmp"
    other = out / ".someone-elses.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"half an image")
    hours_ago = time.time() - 7200
    os.utime(stale, (hours_ago, hours_ago))
    os.utime(other, (hours_ago, hours_ago))
    assert run_cli("--output-dir", str(out), "x").code == 0
    assert not stale.exists() and fresh.exists() and other.exists()


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP does not exist on this system")
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "SIGTERM"),
                                                (getattr(signal, "SIGHUP", 1), 129, "SIGHUP")])
def test_sigterm_and_sighup_print_one_result_and_keep_partials(relay_env, emulator, tmp_path, signum, code, word):
    env = {**os.environ, "IMAGE_RELAY_BASE_URL": emulator.url(fault="stall", stall=30, tag=uuid.uuid4().hex[:8])}
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "--no-open", "--partial-images", "1", "--output-dir",
                             str(out), "terminated job"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    deadline = time.monotonic() + 20
    seen = ""
    while "rendering" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    proc.send_signal(signum)
    stdout, _ = proc.communicate(timeout=20)
    assert proc.returncode == code
    lines = stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["ok"] is False and result["error"]["code"] == "interrupted" and word in result["error"]["message"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_event_count_is_capped(relay_env, emulator, monkeypatch):
    import bridge.relay.receive
    monkeypatch.setattr(bridge.relay.receive, "MAX_EVENTS", 3)
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=uuid.uuid4().hex[:8]))
    run = run_cli("many events")
    assert run.code == 7 and run.json["error"]["code"] == "too_many_events"


def test_one_event_is_capped():
    from bridge.errors import ProtocolError
    from bridge.relay.sse import EventBlocks
    splitter = EventBlocks(limit=1000)
    assert splitter.feed(b"data: {}\n\n" * 3) and not splitter.feed(b"data: " + b"x" * 900)
    with pytest.raises(ProtocolError) as info:
        splitter.feed(b"x" * 200)
    assert info.value.code == "too_large"


# -- image links ---------------------------------------------------------------------------------

class _Files(BaseHTTPRequestHandler):
    """A local 'private' service and a redirector, each telling who asked."""
    seen: list = []

    def do_GET(self):
        _Files.seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"root:x:0:0:secret-bytes-of-a-private-service"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def private_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Files.seen = []
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _public_settings():
    from bridge.config import resolve_settings
    # A public address literal, never contacted: only its being public matters for the link rules.
    return resolve_settings([("env", {"IMAGE_RELAY_BASE_URL": "https://1.0.0.1/v1",
                                      "IMAGE_RELAY_API_KEY": SENTINEL_KEY})])


@pytest.mark.parametrize("template, why", [
    ("http://127.0.0.1:{port}/secret", "private or local network address"),
    ("http://[::ffff:127.0.0.1]:{port}/secret", "private or local network address"),
    ("http://user:pw@example.com/x.png", "carries credentials"),
    ("file:///etc/passwd", "not an http(s) link"),
    ("ftp://example.com/x.png", "not an http(s) link"),
])
def test_links_from_a_public_relay_never_reach_private_services(private_service, template, why):
    from bridge.errors import ProtocolError
    from bridge.relay.transport import CancelToken, download
    with pytest.raises(ProtocolError) as info:
        download(template.format(port=private_service), _public_settings(), limit=1 << 20, cancel=CancelToken())
    assert info.value.code == "unsafe_link" and why in info.value.message
    assert "secret-bytes" not in info.value.message and str(private_service) not in info.value.message
    assert _Files.seen == []


def test_a_name_that_resolves_to_a_private_address_is_refused_after_connect(private_service, monkeypatch):
    """Names are judged by the address the socket really reached (no DNS rebinding): with the
    up-front check of literals switched off, the connection itself must still be refused."""
    from bridge.relay import transport
    from bridge.errors import ProtocolError
    monkeypatch.setattr(transport, "check_link", lambda url, guard: None)
    with pytest.raises(ProtocolError) as info:
        transport.download(f"http://127.0.0.1:{private_service}/secret", _public_settings(), limit=1 << 20,
                           cancel=transport.CancelToken())
    assert info.value.code == "unsafe_link" and _Files.seen == []


def test_redirect_to_a_private_address_is_refused(private_service):
    """A public host that redirects to loopback: the redirect is checked under the same rules."""
    from bridge.errors import ProtocolError
    from bridge.relay.links import PeerGuard, check_link
    guard = PeerGuard(allow_private=False)
    check_link("https://files.example.com/a.png", guard)  # a public link passes
    with pytest.raises(ProtocolError):
        check_link(f"http://127.0.0.1:{private_service}/secret", guard)


def test_redirects_on_a_local_relay_are_followed_under_the_same_rules(private_service, relay_env, emulator):
    from bridge.config import load_settings
    from bridge.relay.transport import CancelToken, download
    settings = load_settings()
    target = f"http://127.0.0.1:{private_service}/image"
    data = download(f"http://127.0.0.1:{private_service}/to/{target}", settings, limit=1 << 20, cancel=CancelToken())
    assert data.startswith(b"root:x") and [p for p, _ in _Files.seen] == [f"/to/{target}", "/image"]
    assert all("Authorization" not in h and SENTINEL_KEY not in json.dumps(h) for _, h in _Files.seen)


def test_a_non_image_behind_a_link_is_not_echoed(relay_env, emulator, monkeypatch):
    from bridge.images.integrity import check_image as verify
    from bridge.errors import ProtocolError
    with pytest.raises(ProtocolError) as info:
        verify(b"root:x:0:0:secret-bytes", "The final image")
    assert "secret" not in info.value.message and "726f6f74" not in info.value.message


def test_link_failure_names_the_link_not_the_base_url(relay_env, emulator, monkeypatch):
    import socket
    from bridge.config import load_settings
    from bridge.errors import NetworkError
    from bridge.relay.transport import CancelToken, download
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError) as info:
        download(f"http://127.0.0.1:{port}/gone.png", load_settings(), limit=1000, cancel=CancelToken())
    assert "image link" in info.value.message and "IMAGE_RELAY_BASE_URL" not in info.value.message

"""Transport units against `responses`: headers sent, error translation, downloads without the key."""
from __future__ import annotations

import time

import pytest
import responses

from bridge.config import resolve_settings
from bridge.errors import Cancelled, NetworkError, ProtocolError, RelayRejected
from bridge.relay.call import HttpCall
from bridge.relay.transport import CancelToken, download, open_call
from tests.images import png

BASE = "https://relay.test/v1"
KEY = "sk-unit-key-0123456789"


def settings():
    return resolve_settings([("env", {"IMAGE_RELAY_BASE_URL": BASE, "IMAGE_RELAY_API_KEY": KEY})])


def _open(call=None):
    return open_call(settings(), call or HttpCall(path="/responses", stream=True, json={"a": 1}),
                     deadline=time.monotonic() + 30, cancel=CancelToken())


@responses.activate
def test_request_carries_key_accept_and_json():
    responses.post(f"{BASE}/responses", body=b"data: {}\n\n", content_type="text/event-stream")
    with _open() as reply:
        assert reply.is_event_stream and b"".join(reply.chunks()) == b"data: {}\n\n"
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert "text/event-stream" in sent.headers["Accept"] and sent.body == b'{"a": 1}'


@responses.activate
def test_rate_limit_carries_retry_after_in_seconds():
    responses.post(f"{BASE}/responses", status=429, headers={"retry-after-ms": "250", "Retry-After": "9"},
                   json={"error": {"message": "Slow down", "type": "requests", "code": "rate_limit_exceeded"}})
    with pytest.raises(RelayRejected) as info, _open():
        pass
    assert info.value.code == "rate_limited" and info.value.retry_after == 0.25 and info.value.status_code == 429


@responses.activate
def test_multipart_parts_are_sent_as_files():
    responses.post(f"{BASE}/images/edits", json={"data": []})
    call = HttpCall(path="/images/edits", stream=False, fields=[("prompt", "hat"), ("n", "1")],
                    files=[("image[]", "a.png", png(), "image/png"), ("mask", "m.png", png(alpha=True), "image/png")])
    with _open(call):
        pass
    body = responses.calls[0].request.body
    assert b'name="prompt"\r\n\r\nhat' in body
    assert b'name="image[]"; filename="a.png"\r\nContent-Type: image/png' in body
    assert b'name="mask"; filename="m.png"\r\nContent-Type: image/png' in body


@responses.activate
def test_download_sends_no_key_and_caps_size():
    responses.get("https://files.relay.test/a.png", body=png(8, 8))
    assert download("https://files.relay.test/a.png", settings(), limit=10_000, cancel=CancelToken()) == png(8, 8)
    assert "Authorization" not in responses.calls[0].request.headers
    responses.get("https://files.relay.test/big.png", body=b"x" * 5000)
    with pytest.raises(ProtocolError):
        download("https://files.relay.test/big.png", settings(), limit=1000, cancel=CancelToken())
    responses.get("https://files.relay.test/gone.png", status=404)
    with pytest.raises(NetworkError) as info:
        download("https://files.relay.test/gone.png", settings(), limit=1000, cancel=CancelToken())
    assert "files.relay.test" not in info.value.message


def test_cancelled_token_sends_nothing():
    token = CancelToken()
    token.cancel()
    with responses.RequestsMock() as mock:
        with pytest.raises(Cancelled), open_call(settings(), HttpCall(path="/responses", stream=True, json={}),
                                                         deadline=time.monotonic() + 5, cancel=token):
            pass
        assert len(mock.calls) == 0

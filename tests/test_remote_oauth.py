"""A shared server as an OAuth resource server, against a small identity provider on loopback."""
from __future__ import annotations

import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx2
import pytest

from tests.conftest import SENTINEL_KEY
from tests.remote_server import client, post_initialize, serving

pytestmark = pytest.mark.anyio
CLIENT_ID, CLIENT_SECRET = "image-server", "s3cret-of-the-resource-server"



class IdentityProvider:
    """RFC 7662 introspection for a table of tokens, answering only its own client."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict] = {}
        self.seen_auth: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                provider.seen_auth.append(self.headers.get("Authorization", ""))
                expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.path != "/introspect" or self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                token = parse_qs(body).get("token", [""])[0]
                answer = json.dumps(provider.tokens.get(token, {"active": False})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def idp():
    provider = IdentityProvider()
    yield provider
    provider.close()


async def test_oauth_tokens_are_introspected_and_must_be_meant_for_this_server(relay_env, emulator, idp,
                                                                              monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_MCP_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("IMAGE_RELAY_MCP_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    with serving("--auth", "oauth", "--oauth-issuer", idp.issuer, "--oauth-introspection-url",
                 f"{idp.issuer}/introspect", "--public-url", "http://127.0.0.1:{port}") as base:
        resource = f"{base}/mcp"
        good = {"active": True, "iss": idp.issuer, "aud": resource, "exp": int(time.time()) + 600,
                "client_id": "claude", "scope": "images"}
        idp.tokens.update({
            "alice-token": {**good, "sub": "alice"}, "bob-token": {**good, "sub": "bob"},
            "other-service": {**good, "sub": "alice", "aud": "https://other.example/mcp"},
            "expired": {**good, "sub": "alice", "exp": int(time.time()) - 5},
            "foreign-issuer": {**good, "sub": "alice", "iss": "https://evil.example"},
            "revoked": {**good, "sub": "alice", "active": False}})

        metadata = httpx2.get(f"{base}/.well-known/oauth-protected-resource/mcp", timeout=30).json()
        assert metadata["resource"] == resource and metadata["authorization_servers"] == [idp.issuer]

        missing = post_initialize(base)
        assert missing.status_code == 401
        challenge = missing.headers["www-authenticate"]
        assert challenge.startswith("Bearer ") and f"{base}/.well-known/oauth-protected-resource/mcp" in challenge
        for token in ("other-service", "expired", "foreign-issuer", "revoked", "never-issued"):
            refused = post_initialize(base, {"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401 and refused.content == missing.content, token

        emulator.reset()
        async with client(base, "alice-token") as alice:
            result = await alice.call_tool("generate_image", {"prompt": "through the provider"})
        assert result.is_error is False
        url = re.search(r"\((http://[^)]+)\)", result.content[0].text).group(1)
        assert httpx2.get(url, headers={"Authorization": "Bearer alice-token"}, timeout=30).status_code == 200
        assert httpx2.get(url, headers={"Authorization": "Bearer bob-token"}, timeout=30).status_code == 404
        unauthorized = httpx2.get(url, timeout=30)
        assert unauthorized.status_code == 401 and "resource_metadata=" in unauthorized.headers["www-authenticate"]
        assert all(r.headers.get("Authorization") == f"Bearer {SENTINEL_KEY}" for r in emulator.requests)
        assert not any("alice-token" in r.body.decode("latin-1") for r in emulator.requests)  # no passthrough
    assert idp.seen_auth and all(a.startswith("Basic ") for a in idp.seen_auth)


def test_oauth_mode_needs_its_provider_and_public_address(relay_env):
    from tests.remote_server import run_refused
    refused = run_refused("--auth", "oauth", "--oauth-issuer", "https://id.example")
    assert refused.returncode == 3 and "--oauth-introspection-url" in refused.stderr

"""A real ``image-relay-mcp --transport streamable-http`` process for tests, and clients for it."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_refused(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge.server.app", "--transport", "streamable-http", *args],
                          capture_output=True, text=True, encoding="utf-8", timeout=60, env=dict(os.environ))


@contextlib.contextmanager
def serving(*args: str, host: str = "127.0.0.1", connect: str = "127.0.0.1", env: dict | None = None):
    """Start the server; yield its base URL as reached on ``connect``; stop it."""
    port = free_port()
    args = tuple(a.replace("{port}", str(port)) for a in args)  # e.g. --public-url http://127.0.0.1:{port}
    # The server logs a line per request: its stderr goes to a file, since a pipe nobody reads
    # fills up (after a few KiB on Windows) and then blocks the server mid-request.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.server.app", "--transport", "streamable-http",
                             "--host", host, "--port", str(port), *args], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((connect, port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait(10)
                    log.seek(0)
                    raise RuntimeError(f"server did not start: {log.read().decode(errors='replace')[-2000:]}")
                time.sleep(0.05)
        yield f"http://{connect}:{port}"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        log.close()
        assert out == b""  # logs go to stderr only


@contextlib.asynccontextmanager
async def client(base: str, token: str | None = None, **kwargs):
    """The official MCP client over HTTP, sending ``token`` as a bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(120.0, connect=10.0)) as http:
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http), **kwargs) as c:
            yield c


def post_initialize(base: str, headers: dict | None = None) -> httpx2.Response:
    return httpx2.post(f"{base}/mcp", json=INIT, headers={**MCP_HEADERS, **(headers or {})}, timeout=30)

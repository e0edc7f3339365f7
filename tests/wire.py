"""A raw JSON-RPC client for the stdio server: the exact bytes of each answer as they cross the pipe.

The official client parses what it reads into models, which is right for the tests of what a
client does with a result; this one is for the tests that hold bytes (a result recorded from an
earlier release, the wire transcript of a task). One request at a time; notifications that arrive
meanwhile are kept in order.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

MODERN = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"
CLIENT = {"name": "wire-test", "version": "1.0"}


class Wire:
    def __init__(self, cwd: Path, env: dict | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge.server.app"], cwd=str(cwd),
                                     env={**os.environ, **(env or {})}, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.notifications: list[dict] = []
        self.sent: list[bytes] = []
        self.received: list[bytes] = []
        self.capabilities: dict | None = None  # set by discover: the 2026 wire's per-request capabilities
        self._id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def send(self, message: dict) -> None:
        data = json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n"
        self.sent.append(data)
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict | None = None, timeout: float = 60.0) -> tuple[bytes, dict]:
        """The raw line of the answer (without its newline) and its parsed form."""
        self._id += 1
        params = dict(params or {})
        if self.capabilities is not None:
            params["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                               "io.modelcontextprotocol/clientInfo": CLIENT,
                               "io.modelcontextprotocol/clientCapabilities": self.capabilities,
                               **params.get("_meta", {})}
        self.send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        while True:
            line = self.lines.get(timeout=timeout)
            if not line:
                raise EOFError(f"the server closed its output before answering {method}")
            self.received.append(line)
            message = json.loads(line)
            if message.get("id") == self._id and "method" not in message:
                return line.rstrip(b"\r\n"), message
            if "method" in message and "id" not in message:
                self.notifications.append(message)

    def legacy(self, version: str = "2025-11-25", capabilities: dict | None = None) -> dict:
        """The handshake of a client of an earlier revision."""
        _, answer = self.request("initialize", {"protocolVersion": version, "capabilities": capabilities or {},
                                                "clientInfo": CLIENT})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer["result"]

    def discover(self, capabilities: dict | None = None) -> dict:
        """The 2026 wire: capabilities ride on every request, starting with server/discover."""
        self.capabilities = capabilities or {}
        return self.request("server/discover")[1]["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

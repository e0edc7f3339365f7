#!/usr/bin/env python3
"""Drive `codex app-server` to check the installed image-relay-bridge plugin.

Asks Codex for the status of its MCP servers, checks that ours started and
lists `generate_image`, then (unless --list-only) calls the tool through Codex
and checks that the result names an image file that exists.

Run it with HOME (or CODEX_HOME) pointing at a Codex home where the plugin is
installed. Needs no login and no network: app-server's MCP requests never
reach a model. Exit status 0 means every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

DEFAULT_SERVER = "image-relay-bridge"
DEFAULT_TOOL = "generate_image"
DEFAULT_ARGUMENTS = {"prompt": "a lighthouse on a cliff at dusk", "size": "256x256"}


class ProbeError(Exception):
    """A check failed; the message says which one."""


class AppServer:
    """A `codex app-server` child speaking JSON-RPC, one object per line."""

    def __init__(self, codex: str, cwd: str) -> None:
        self._proc = subprocess.Popen(
            [codex, "app-server"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        self._proc.stdin.flush()

    def notify(self, method: str) -> None:
        self._send({"method": method})

    def request(self, method: str, params: dict[str, Any], timeout: float) -> Any:
        """Send one request and return its result, skipping notifications."""
        self._next_id += 1
        request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeError(f"{method}: no answer from codex app-server within {timeout:.0f}s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if not line:
                raise ProbeError(f"{method}: codex app-server exited (status {self._proc.poll()})")
            message = json.loads(line)
            if message.get("id") != request_id:
                continue
            if "error" in message:
                raise ProbeError(f"{method}: {message['error'].get('message', message['error'])}")
            return message["result"]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def check_status(app: AppServer, server: str, tool: str, timeout: float) -> None:
    statuses = app.request("mcpServerStatus/list", {}, timeout)["data"]
    ours = [s for s in statuses if s["name"] == server]
    if not ours:
        names = ", ".join(s["name"] for s in statuses) or "none"
        raise ProbeError(f"mcpServerStatus/list: no server named {server!r} (servers: {names})")
    status = ours[0]
    if status.get("toolsError") is not None:
        raise ProbeError(f"mcpServerStatus/list: {server}: {status['toolsError']}")
    if tool not in status["tools"]:
        raise ProbeError(f"mcpServerStatus/list: {server} does not list {tool!r}")
    print(f"ok   mcpServerStatus/list: {server} (plugin {status.get('pluginId')}) "
          f"lists {', '.join(sorted(status['tools']))}; toolsError is null")


def check_call(app: AppServer, server: str, tool: str, arguments: dict[str, Any],
               cwd: str, timeout: float, call_timeout: float) -> None:
    thread = app.request("thread/start", {"cwd": cwd, "ephemeral": True}, timeout)["thread"]
    started = time.monotonic()
    result = app.request(
        "mcpServer/tool/call",
        {"threadId": thread["id"], "server": server, "tool": tool, "arguments": arguments},
        call_timeout,
    )
    elapsed = time.monotonic() - started
    texts = [block.get("text", "") for block in result.get("content") or [] if block.get("type") == "text"]
    text = texts[0] if texts else ""
    if result.get("isError") or not text.startswith("!["):
        raise ProbeError(f"mcpServer/tool/call {tool}: the tool reported an error: {text[:300]!r}")
    # The result text leads with the markdown image tag; the absolute path follows on a "Saved" line.
    saved = re.search(r"^Saved (.+?) \(\d+x\d+, ", text, re.M)
    path = saved.group(1) if saved else ""
    if re.match(r"^[A-Za-z]:\\", path) and shutil.which("winepath"):  # Codex's Windows build under Wine
        path = subprocess.run(["winepath", "-u", path], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.isfile(path):
        raise ProbeError(f"mcpServer/tool/call {tool}: {path!r} is not an existing absolute path")
    images = [block for block in result.get("content") or [] if block.get("type") == "image"]
    if not images:
        raise ProbeError(f"mcpServer/tool/call {tool}: no preview image block in the result")
    print(f"ok   mcpServer/tool/call {tool}: {path} ({os.path.getsize(path)} bytes, {elapsed:.1f}s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codex", default="codex", help="codex executable (default: codex on PATH)")
    parser.add_argument("--cwd", default=os.getcwd(), help="working directory for app-server and the thread")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="MCP server name")
    parser.add_argument("--tool", default=DEFAULT_TOOL, help="tool that must be listed and called")
    parser.add_argument("--arguments", type=json.loads, default=DEFAULT_ARGUMENTS,
                        help="tool arguments as a JSON object")
    parser.add_argument("--list-only", action="store_true", help="check the status, do not call the tool")
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait for each answer")
    parser.add_argument("--call-timeout", type=float, default=330, help="seconds to wait for the tool call")
    args = parser.parse_args(argv)

    app = AppServer(args.codex, args.cwd)
    try:
        app.request("initialize", {"clientInfo": {"name": "check-plugins", "version": "0"}}, args.timeout)
        app.notify("initialized")
        check_status(app, args.server, args.tool, args.timeout)
        if not args.list_only:
            check_call(app, args.server, args.tool, args.arguments, args.cwd,
                       args.timeout, args.call_timeout)
    except ProbeError as exc:
        print(f"FAIL {exc}")
        return 1
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""How fast the MCP server answers ``initialize`` from a cold process start (Codex waits about a
second for optional servers before its first model request).

    python bench/bench_mcp_start.py                      # image-relay-mcp on PATH
    python bench/bench_mcp_start.py python -m bridge.server.app

Prints five timings and their median, beside the bare import of the MCP SDK's server module.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}


def answer_time(command: list[str]) -> float:
    started = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.monotonic() - started
    proc.kill()
    proc.wait()
    assert b'"result"' in line, line[:200]
    return elapsed


def import_time() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], check=True)
    return time.monotonic() - started


def main() -> int:
    command = sys.argv[1:] or ["image-relay-mcp"]
    times = [answer_time(command) for _ in range(5)]
    imports = statistics.median(import_time() for _ in range(5))
    print(f"initialize answered in {' '.join(f'{t:.3f}' for t in times)} s; median {statistics.median(times):.3f} s "
          f"(python -c 'import mcp.server.mcpserver' alone: {imports:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

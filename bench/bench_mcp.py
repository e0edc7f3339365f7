#!/usr/bin/env python3
"""MCP server benchmarks over stdio with the official client, against the relay emulator.

    python bench/bench_mcp.py           # prints figures; run by hand

1. Six concurrent generate_image calls against one call (target: at most 1.5 times one call).
2. Progress as events arrive: with 0.5 s between relay events, the time each progress
   notification reaches the client.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent
DELAY = 0.5
SIZE = "1024x1024"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def bench(port: int, out_dir: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    env.update({"IMAGE_RELAY_BASE_URL": f"http://127.0.0.1:{port}/delay={DELAY}/v1", "IMAGE_RELAY_API_KEY": "bench",
                "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-1.5",
                "IMAGE_RELAY_OUTPUT_DIR": out_dir})
    params = StdioServerParameters(command=sys.executable, args=["-m", "bridge.mcp_server"], env=env)
    async with Client(params, read_timeout_seconds=300) as client:
        await client.list_tools()
        arrivals: list[tuple[float, str]] = []
        started = time.perf_counter()

        async def on_progress(value, total, message):
            arrivals.append((time.perf_counter() - started, f"{value:g}/{total:g} {message}"))
        result = await client.call_tool("generate_image", {"prompt": "one call", "size": SIZE, "partial_images": 2},
                                        progress_callback=on_progress)
        single = time.perf_counter() - started
        assert not result.is_error, result.content
        print(f"one call: {single:.2f} s ({DELAY} s between relay events, {SIZE}, 2 partial images)")
        print("progress notifications as they reached the client:")
        for at, text in arrivals:
            print(f"  +{at:5.2f} s  {text}")

        results = []

        async def one(i: int) -> None:
            results.append(await client.call_tool("generate_image", {"prompt": f"concurrent {i}", "size": SIZE,
                                                                     "partial_images": 2}))
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)
        together = time.perf_counter() - started
        assert all(not r.is_error for r in results)
        paths = {r.structured_content["image_path"] for r in results}
        print(f"six concurrent calls: {together:.2f} s = {together / single:.2f} x one call (target <= 1.5 x); "
              f"{len(paths)} distinct files")


def main() -> int:
    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "bridge.emulator", "--port", str(port)],
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
    emulator.stderr.readline()
    out_dir = tempfile.mkdtemp(prefix="irb-bench-mcp-")
    try:
        anyio.run(bench, port, out_dir)
    finally:
        emulator.terminate()
        emulator.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""MCP server benchmarks over stdio with the official client, against the relay emulator.

    python bench/bench_mcp.py           # prints figures; run by hand
    python bench/bench_mcp.py 4k soak   # only some sections: progress, 4k, n4, soak

1. Progress as events arrive (0.5 s between relay events), and six concurrent 1024x1024 calls
   against one call (target: at most 1.5 times one call).
2. 1, 6 and 16 concurrent 3840x2160 noise PNG calls: all complete, files distinct and byte-exact
   (against curl's copy of the same answer), server peak memory (VmHWM; target <= 400 MiB).
3. n=4 through the Responses API against an emulator paced at 1 s per event: wall against one
   image (target <= 1.3 x).
4. A 200-call soak: the server's resident memory at call 50 and at call 200 (target: within 20 MiB).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent
SAVED = re.compile(r"^Saved (.+) \((\d+x\d+), (\w+), (\d+) bytes\)\.$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_pid() -> int:
    """The bench's own MCP server child (the stdio client does not expose its pid)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"bridge.server.app" in cmdline and f"PPid:\t{os.getpid()}\n" in status:
                return int(entry.name)
    raise SystemExit("the MCP server process was not found")


def memory(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def saved_paths(result) -> list[str]:
    return [m.group(1) for m in SAVED.finditer(result.content[0].text)]


def expected_sha(port: int, prompt: str, size: str) -> str:
    """The relay's own bytes for this prompt (the emulator renders deterministically), via curl."""
    body = json.dumps({"model": "gpt-image-emulator", "prompt": prompt, "size": size, "n": 1, "quality": "high",
                       "background": "auto", "output_format": "png"})
    out = subprocess.run(["curl", "-sS", "-X", "POST", "-H", "Authorization: Bearer bench", "-H",
                          "Content-Type: application/json", "--data-binary", body,
                          f"http://127.0.0.1:{port}/noise=1/v1/images/generations"], capture_output=True).stdout
    return hashlib.sha256(base64.b64decode(json.loads(out)["data"][0]["b64_json"])).hexdigest()


def server(port: int, out_dir: str, options: str = "", **extra: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    env.update({"IMAGE_RELAY_BASE_URL": f"http://127.0.0.1:{port}/{options}v1", "IMAGE_RELAY_API_KEY": "bench",
                "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-emulator",
                "IMAGE_RELAY_OUTPUT_DIR": out_dir, "IMAGE_RELAY_MCP_WAIT_SECONDS": "600",
                "IMAGE_RELAY_MCP_PREVIEW_SIZE": "1024", **extra})
    return StdioServerParameters(command=sys.executable, args=["-m", "bridge.server.app"], env=env)


async def progress_and_six(port: int, out_dir: str) -> None:
    async with Client(server(port, out_dir, "delay=0.5/"), read_timeout_seconds=300) as client:
        await client.list_tools()
        arrivals: list[tuple[float, str]] = []
        started = time.perf_counter()

        async def on_progress(value, total, message):
            arrivals.append((time.perf_counter() - started, f"{value:g}/{total:g} {message}"))
        result = await client.call_tool("generate_image", {"prompt": "one call", "size": "1024x1024",
                                                           "partial_images": 2}, progress_callback=on_progress)
        single = time.perf_counter() - started
        assert not result.is_error, result.content
        print(f"one call: {single:.2f} s (0.5 s between relay events, 1024x1024, 2 partial images)")
        for at, text in arrivals:
            print(f"  +{at:5.2f} s  {text}")
        results = []

        async def one(i: int) -> None:
            results.append(await client.call_tool("generate_image", {"prompt": f"concurrent {i}", "size": "1024x1024",
                                                                     "partial_images": 2}))
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)
        together = time.perf_counter() - started
        assert all(not r.is_error for r in results)
        print(f"six concurrent calls: {together:.2f} s = {together / single:.2f} x one call (target <= 1.5 x); "
              f"{len({saved_paths(r)[0] for r in results})} distinct files")


async def concurrent_4k(port: int, out_dir: str, count: int, expected: dict[str, str]) -> None:
    async with Client(server(port, out_dir, "noise=1/chunk=65536/"), read_timeout_seconds=900) as client:
        await client.list_tools()
        pid = server_pid()
        results = []

        async def one(i: int) -> None:
            results.append(await client.call_tool("generate_image", {"prompt": f"4k {i}", "size": "3840x2160",
                                                                     "api_mode": "images"}))
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for i in range(count):
                group.start_soon(one, i)
        wall = time.perf_counter() - started
        peak = memory(pid, "VmHWM")
    assert all(not r.is_error for r in results), [r.content[0].text[:200] for r in results if r.is_error]
    paths = [saved_paths(r)[0] for r in results]
    exact = sum(1 for r, p in zip(results, paths)
                if hashlib.sha256(Path(p).read_bytes()).hexdigest() == expected[re.search(r"\[(4k \d+)\]",
                                                                                         r.content[0].text).group(1)])
    print(f"{count:>2} concurrent 3840x2160 calls: {wall:.1f} s, {len(set(paths))} distinct files, {exact} byte-exact, "
          f"server VmHWM {peak:.0f} MiB (target <= 400)", flush=True)


async def n4(port: int, out_dir: str) -> None:
    async with Client(server(port, out_dir, "delay=1.0/"), read_timeout_seconds=600) as client:
        await client.list_tools()
        started = time.perf_counter()
        one = await client.call_tool("generate_image", {"prompt": "paced one", "size": "512x512"})
        single = time.perf_counter() - started
        started = time.perf_counter()
        four = await client.call_tool("generate_image", {"prompt": "paced four", "size": "512x512", "n": 4,
                                                         "api_mode": "responses"})
        wall = time.perf_counter() - started
    assert not one.is_error and not four.is_error, four.content[0].text
    print(f"n=4 through the Responses API (1 s per relay event): one image {single:.2f} s, four {wall:.2f} s = "
          f"{wall / single:.2f} x (target <= 1.3 x); {len(saved_paths(four))} images")


async def soak(port: int, out_dir: str, calls: int = 200) -> None:
    async with Client(server(port, out_dir), read_timeout_seconds=300) as client:
        await client.list_tools()
        pid = server_pid()
        marks = {}
        started = time.perf_counter()
        for i in range(1, calls + 1):
            result = await client.call_tool("generate_image", {"prompt": f"soak {i}", "size": "256x256",
                                                               "api_mode": "images"})
            assert not result.is_error
            if i in (1, 50, 100, 150, 200):
                marks[i] = memory(pid, "VmRSS")
    print(f"{calls}-call soak in {time.perf_counter() - started:.1f} s, server RSS by call: "
          + ", ".join(f"{k}: {v:.1f} MiB" for k, v in marks.items())
          + f"; 200 - 50 = {marks[200] - marks[50]:+.1f} MiB (target within 20)")


def main() -> int:
    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "bridge.emulator", "--port", str(port)],
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
    emulator.stderr.readline()
    out_dir = tempfile.mkdtemp(prefix="irb-bench-mcp-")
    sections = sys.argv[1:] or ["progress", "4k", "n4", "soak"]
    try:
        if "progress" in sections:
            anyio.run(progress_and_six, port, out_dir)
        if "4k" in sections:
            expected = {f"4k {i}": expected_sha(port, f"4k {i}", "3840x2160") for i in range(16)}  # renders once
            for count in (1, 6, 16):
                anyio.run(concurrent_4k, port, out_dir, count, expected)
        if "n4" in sections:
            anyio.run(n4, port, out_dir)
        if "soak" in sections:
            anyio.run(soak, port, out_dir)
    finally:
        emulator.terminate()
        emulator.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

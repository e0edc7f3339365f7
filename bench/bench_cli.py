#!/usr/bin/env python3
"""CLI benchmarks against the relay emulator, each beside its physical limit, in one run.

    python bench/bench_cli.py            # prints figures; run by hand, not part of the tests

1. A 1536x1024 noise PNG (about 6 MB of base64, sent twice as the Responses API does) streamed
   in 1 KiB and in 128-byte pieces: CLI wall time minus curl's on the same stream (target <= 0.5 s),
   and the CLI's peak RSS (target <= 120 MB).
2. ``image-relay-generate --help`` against ``python -c "import requests"`` (target <= +0.25 s),
   and whether the CLI path imports ``mcp`` (it must not).
3. A close-delimited stream (no length, no chunking) with 0.5 s between events: when each
   progress line appears compared with when its event was sent.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SIZE = "1536x1024"
RUNS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([PYTHON, "-m", "bridge.emulator", "--port", str(port), "--delay", "0"],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    proc.stderr.readline()  # "listening on ..."
    return proc, port


def body(prompt: str) -> bytes:
    return json.dumps({"model": "gpt-5", "stream": True, "input": prompt, "tool_choice": {"type": "image_generation"},
                       "tools": [{"type": "image_generation", "model": "gpt-image-1.5", "size": SIZE,
                                  "quality": "high", "background": "auto", "output_format": "png",
                                  "partial_images": 0}]}).encode()




def cli_peak_rss(cmd: list[str], env: dict) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, out


def bench_stream(port: int, chunk: int, env: dict, out_dir: str) -> None:
    url = f"http://127.0.0.1:{port}/noise=1/chunk={chunk}/v1"
    curl_times, cli_times, rss = [], [], []
    received = 0
    for i in range(RUNS):
        prompt = f"noise bench {chunk} {i}"
        payload = body(prompt)
        started = time.perf_counter()
        proc = subprocess.run(["curl", "-sS", "-N", "-o", "/dev/null", "-w", "%{size_download}", "-X", "POST",
                               "-H", "Authorization: Bearer bench", "-H", "Content-Type: application/json",
                               "--data-binary", "@-", f"{url}/responses"], input=payload, capture_output=True)
        curl_times.append(time.perf_counter() - started)
        received = int(proc.stdout or 0)
        cmd = [shutil.which("image-relay-generate") or "image-relay-generate", "--no-open", "--quiet", "--no-template",
               "--size", SIZE, "--output-dir", out_dir, prompt]
        elapsed, peak, out = cli_peak_rss(cmd, {**env, "IMAGE_RELAY_BASE_URL": url})
        result = json.loads(out)
        assert result["ok"], result
        cli_times.append(elapsed)
        rss.append(peak)
    curl_med, cli_med = statistics.median(curl_times), statistics.median(cli_times)
    print(f"stream {chunk:>4}-byte pieces, {received / 1e6:.1f} MB on the wire, {RUNS} runs (median):")
    print(f"  curl {curl_med:.3f} s | CLI {cli_med:.3f} s | CLI - curl = {cli_med - curl_med:+.3f} s (target <= +0.5 s)")
    print(f"  CLI peak RSS {max(rss):.1f} MB (target <= 120 MB); image {result['actual_size']} {result['bytes'] / 1e6:.2f} MB")


def bench_help(env: dict) -> None:
    def median_of(cmd: list[str]) -> float:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    requests_time = median_of([PYTHON, "-c", "import requests"])
    cli = shutil.which("image-relay-generate") or "image-relay-generate"
    help_time = median_of([cli, "--help"])
    imports_mcp = subprocess.run([PYTHON, "-c", "import sys, bridge.cli; print(any(m == 'mcp' or m.startswith('mcp.') "
                                  "for m in sys.modules))"], capture_output=True, text=True, env=env).stdout.strip()
    print(f"--help: {help_time:.3f} s | python -c 'import requests': {requests_time:.3f} s | "
          f"difference {help_time - requests_time:+.3f} s (target <= +0.25 s); CLI path imports mcp: {imports_mcp}")


def bench_close_delimited(port: int, env: dict, out_dir: str) -> None:
    delay = 0.5
    url = f"http://127.0.0.1:{port}/close=1/delay={delay}/v1"
    cmd = [shutil.which("image-relay-generate") or "image-relay-generate", "--no-open", "--size", "256x256",
           "--partial-images", "2", "--output-dir", out_dir, "close delimited"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**env, "IMAGE_RELAY_BASE_URL": url}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stamps = []
    for line in proc.stderr:
        if line.startswith("[progress]"):
            stamps.append((time.perf_counter() - started, line.strip()))
    proc.wait()
    print(f"close-delimited stream, {delay} s between events (arrival of each progress line):")
    for at, line in stamps:
        print(f"  +{at:5.2f} s  {line}")
    spread = stamps[-1][0] - stamps[2][0] if len(stamps) > 3 else 0.0
    print(f"  lines spread over {spread:.2f} s after the first event (all at the end would be ~0 s)")


def main() -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    env.update({"IMAGE_RELAY_API_KEY": "bench", "IMAGE_RELAY_TEXT_MODEL": "gpt-5",
                "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-1.5", "IMAGE_RELAY_CLI_OPEN_IMAGE": "false"})
    emulator, port = start_emulator()
    out_dir = tempfile.mkdtemp(prefix="irb-bench-")
    try:
        for chunk in (1024, 128):
            bench_stream(port, chunk, env, out_dir)
        bench_help(env)
        bench_close_delimited(port, env, out_dir)
    finally:
        emulator.terminate()
        emulator.wait()
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

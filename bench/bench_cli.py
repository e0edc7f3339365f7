#!/usr/bin/env python3
"""CLI benchmarks against the relay emulator, each beside its physical limit, in one run.

    python bench/bench_cli.py            # prints figures; run by hand, not part of the tests

1. Incompressible (noise) PNGs at 64x64, 1024x1024, 1536x1024, 2048x2048 and 3840x2160, in
   responses mode (the final image sent twice, as the Responses API does) and images mode, with
   64 KiB and 1 KiB relay writes: CLI wall time minus curl's on the same answer (targets: <= 0.5 s
   at 3840x2160 with 64 KiB writes, <= 0.35 s at 1536x1024) and the CLI's peak RSS (targets:
   <= 64 MiB at 3840x2160, <= 8 MiB above the 64x64 baseline at 1024x1024). Each answer is
   rendered once before it is timed, so both sides read the same cached bytes.
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
SIZES = ("64x64", "1024x1024", "1536x1024", "2048x2048", "3840x2160")
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


def body(prompt: str, size: str, mode: str) -> tuple[str, bytes]:
    if mode == "images":
        return "images/generations", json.dumps({"model": "gpt-image-emulator", "prompt": prompt, "n": 1, "size": size,
                                                 "quality": "high", "background": "auto",
                                                 "output_format": "png"}).encode()
    return "responses", json.dumps({"model": "gpt-5", "stream": True, "input": prompt,
                                    "tool_choice": {"type": "image_generation"},
                                    "tools": [{"type": "image_generation", "model": "gpt-image-emulator", "size": size,
                                               "quality": "high", "background": "auto", "output_format": "png",
                                               "partial_images": 0}]}).encode()


def cli_peak_rss(cmd: list[str], env: dict) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, out


def curl(url: str, path: str, payload: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(["curl", "-sS", "-N", "-o", "/dev/null", "-w", "%{size_download}", "-X", "POST",
                           "-H", "Authorization: Bearer bench", "-H", "Content-Type: application/json",
                           "--data-binary", "@-", f"{url}/{path}"], input=payload, capture_output=True)
    return time.perf_counter() - started, int(proc.stdout or 0)


def bench_stream(port: int, size: str, mode: str, chunk: int, env: dict, out_dir: str) -> dict:
    url = f"http://127.0.0.1:{port}/noise=1/chunk={chunk}/v1"
    prompt = f"noise bench {size} {mode}"
    path, payload = body(prompt, size, mode)
    curl(url, path, payload)  # render once: the emulator keeps it, so both sides below read the same bytes
    curl_times, cli_times, rss = [], [], []
    received = 0
    for _ in range(RUNS):
        elapsed, received = curl(url, path, payload)
        curl_times.append(elapsed)
        cmd = [shutil.which("image-relay-generate") or "image-relay-generate", "--no-open", "--quiet", "--no-template",
               "--api-mode", mode, "--size", size, "--output-dir", out_dir, prompt]
        elapsed, peak, out = cli_peak_rss(cmd, {**env, "IMAGE_RELAY_BASE_URL": url})
        result = json.loads(out)
        assert result["ok"], result
        cli_times.append(elapsed)
        rss.append(peak)
    curl_med, cli_med = statistics.median(curl_times), statistics.median(cli_times)
    row = {"size": size, "mode": mode, "chunk": chunk, "wire": received / 1e6, "image": result["bytes"] / 1e6,
           "curl": curl_med, "cli": cli_med, "rss": max(rss)}
    print(f"  {size:>9} {mode:<9} {chunk:>5} B writes | {row['wire']:6.1f} MB wire, {row['image']:5.1f} MB image | "
          f"curl {curl_med:.3f} s, CLI {cli_med:.3f} s, CLI - curl {cli_med - curl_med:+.3f} s | "
          f"peak RSS {row['rss']:.1f} MiB", flush=True)
    return row


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
                "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-emulator", "IMAGE_RELAY_CLI_OPEN_IMAGE": "false"})
    emulator, port = start_emulator()
    out_dir = tempfile.mkdtemp(prefix="irb-bench-")
    try:
        print(f"CLI against curl on the same answer ({RUNS} runs, median; peak RSS the largest):")
        rows = [bench_stream(port, size, mode, chunk, env, out_dir)
                for size in SIZES for mode in ("responses", "images") for chunk in (65536, 1024)]
        base = min(r["rss"] for r in rows if r["size"] == "64x64")
        at_1k = max(r["rss"] for r in rows if r["size"] == "1024x1024")
        at_4k = [r for r in rows if r["size"] == "3840x2160"]
        print(f"targets: 3840x2160 peak RSS {max(r['rss'] for r in at_4k):.1f} MiB (<= 64); 1024x1024 "
              f"{at_1k - base:+.1f} MiB over the 64x64 baseline {base:.1f} (<= +8); 3840x2160 64 KiB writes CLI - curl "
              + ", ".join(f"{r['mode']} {r['cli'] - r['curl']:+.3f} s" for r in at_4k if r["chunk"] == 65536)
              + " (<= 0.5); 1536x1024 64 KiB writes "
              + ", ".join(f"{r['mode']} {r['cli'] - r['curl']:+.3f} s" for r in rows
                          if r["size"] == "1536x1024" and r["chunk"] == 65536) + " (<= 0.35)")
        bench_help(env)
        bench_close_delimited(port, env, out_dir)
    finally:
        emulator.terminate()
        emulator.wait()
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What running each MCP job in a worker process of its own costs a call, against the emulator.

    python bench/bench_jobs.py [RUNS]      # prints figures; run by hand (default 15 runs each)

1. The server's side: starting the detached worker until it has called back over its handoff line
   and can be handed its order (the job's thread waits for that; the call's event loop does not).
2. Until the relay sees the request: from the start of a job to the emulator receiving its POST,
   for a worker process against the same job run in a thread of an already warm process (as the
   server ran jobs before). The difference is what the worker design adds to every generation.
3. A whole MCP call through the official client (in-process server) against an instant relay.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    home = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    for name, sub in (("HOME", ""), ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        os.environ[name] = str(home / sub)
    from bridge.emulator import start_emulator
    with start_emulator() as emulator:
        os.environ.update({"IMAGE_RELAY_API_KEY": "sk-bench", "IMAGE_RELAY_TEXT_MODEL": "gpt-5",
                           "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-emulator",
                           "IMAGE_RELAY_DEFAULT_SIZE": "64x48", "IMAGE_RELAY_OUTPUT_DIR": str(home / "out")})
        spawn, worker = _worker_runs(emulator, runs, home)
        thread = _thread_runs(emulator, runs, home)
        call = _mcp_calls(emulator, runs)
    print(f"runs: {runs} each; medians (min-max)")
    print(f"1. start worker until it calls back (server side): {_fmt(spawn)}")
    print(f"2. job start -> relay receives the request: worker process {_fmt(worker)}; "
          f"thread in a warm process {_fmt(thread)}; added {1000 * (statistics.median(worker) - statistics.median(thread)):.0f} ms")
    print(f"3. whole MCP call, instant relay, 64x48: {_fmt(call)}")


def _fmt(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.0f} ms ({1000 * min(values):.0f}-{1000 * max(values):.0f})"


def _settings(emulator, tag: str):
    from bridge.config import load_settings
    os.environ["IMAGE_RELAY_BASE_URL"] = emulator.url(tag=tag, delay=0)
    return load_settings({})


def _arrived(emulator, tag: str, started: float) -> float:
    while not any(r.options.get("tag") == tag for r in list(emulator.requests)):
        time.sleep(0.0005)
    return time.perf_counter() - started


def _worker_runs(emulator, runs: int, home: Path) -> tuple[list[float], list[float]]:
    from bridge.server import runner
    from bridge.server.background import Job
    from bridge.user_request import GenerationRequest
    from bridge.relay.transport import CancelToken
    folder = home / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    spawn, arrival = [], []
    real_start = runner._start

    for i in range(runs):
        tag = uuid.uuid4().hex[:8]
        settings = _settings(emulator, tag)
        job = Job(id=f"job_{i:012x}", prompt="bench")
        timing = {}

        def timed_start(*args):
            t = time.perf_counter()
            started = real_start(*args)
            timing["spawn"] = time.perf_counter() - t
            return started
        runner._start = timed_start
        started = time.perf_counter()
        thread = threading.Thread(target=runner.run_in_worker, args=(job, GenerationRequest(prompt="bench"), settings,
                                                                      home, folder, CancelToken()))
        thread.start()
        arrival.append(_arrived(emulator, tag, started))
        thread.join()
        spawn.append(timing["spawn"])
    runner._start = real_start
    return spawn, arrival


def _thread_runs(emulator, runs: int, home: Path) -> list[float]:
    from bridge.core import generate_image
    from bridge.user_request import GenerationRequest
    generate_image(GenerationRequest(prompt="warm up"), _settings(emulator, "warm"), base_dir=home)
    out = []
    for _ in range(runs):
        tag = uuid.uuid4().hex[:8]
        settings = _settings(emulator, tag)
        started = time.perf_counter()
        thread = threading.Thread(target=generate_image, args=(GenerationRequest(prompt="bench"), settings),
                                  kwargs={"base_dir": home})
        thread.start()
        out.append(_arrived(emulator, tag, started))
        thread.join()
    return out


def _mcp_calls(emulator, runs: int) -> list[float]:
    import anyio
    from mcp import Client
    from bridge.server.app import server
    os.environ["IMAGE_RELAY_BASE_URL"] = emulator.url(delay=0)
    out = []

    async def main():
        async with Client(server) as client:
            for i in range(runs):
                started = time.perf_counter()
                result = await client.call_tool("generate_image", {"prompt": f"bench {i}"})
                assert not result.is_error, result.content[0].text
                out.append(time.perf_counter() - started)
    anyio.run(main)
    return out


if __name__ == "__main__":
    main()

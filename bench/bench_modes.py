#!/usr/bin/env python3
"""Peak memory of one 4K image in every API mode, against the same image through ``responses``.

    python bench/bench_modes.py            # prints figures; run by hand, not part of the tests

The emulator draws one incompressible 4096x4096 PNG (about 48 MiB, the size of a 4K Gemini image
at its worst) and sends it as each mode's relays do: in ``responses`` as the Responses API's
``result`` (twice: output_item.done and response.completed); in ``gemini`` as ``inlineData`` (and
``inline_data``); in ``chat`` as ``message.images``, as a Markdown data URL in ``content`` (new-api,
streamed as one delta line of 64 MB) and as a bare data URL; in ``images`` as relays serve it: base64
behind a ``data:`` header in ``b64_json`` (whole and streamed), a Seedream link, OpenRouter's
``/images`` and an async task whose image is a link (curl's figure there is the first answer only). For each: the CLI's peak RSS (the
largest of 3 runs), the same CLI's peak for a 64x64 image (what the interpreter and its libraries
cost), and (peak - that baseline) / image bytes: the target is a few times at most. curl's time
on the same answer is the physical limit the CLI's time is compared against.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cli import start_emulator  # noqa: E402 - the bench folder is the script's own

RUNS = 3
MiB = 1 << 20

# (label, mode, emulator options, model, extra CLI arguments)
CASES = [
    ("responses", "responses", {}, "gpt-image-emulator", ["--size", "4096x4096"]),
    ("gemini inlineData", "gemini", {}, "gemini-3-pro-image", ["--aspect-ratio", "1:1", "--resolution", "4K"]),
    ("gemini inline_data stream", "gemini", {"shape": "snake"}, "gemini-3-pro-image",
     ["--aspect-ratio", "1:1", "--resolution", "4K", "--stream", "true"]),
    ("chat message.images", "chat", {"shape": "images"}, "gemini-3-pro-image",
     ["--aspect-ratio", "1:1", "--resolution", "4K"]),
    ("chat Markdown, streamed", "chat", {"shape": "markdown"}, "gemini-3-pro-image",
     ["--aspect-ratio", "1:1", "--resolution", "4K", "--stream", "true"]),
    ("chat bare data URL", "chat", {"shape": "bare"}, "gemini-3-pro-image",
     ["--aspect-ratio", "1:1", "--resolution", "4K"]),
    # The Images API as relays serve it: base64 behind a data: header, links, OpenRouter's route, a task.
    ("images b64_json data:", "images", {"fault": "prefixed-b64"}, "gpt-image-emulator", ["--size", "4096x4096"]),
    ("images b64_json data:, stream", "images", {"fault": "prefixed-b64"}, "gpt-image-emulator",
     ["--size", "4096x4096", "--stream", "true"]),
    ("images link (Seedream)", "images", {}, "doubao-seedream-4-0", ["--size", "4096x4096"]),
    ("images OpenRouter /images", "images", {"fault": "openrouter-only"}, "gpt-image-emulator",
     ["--size", "4096x4096"]),
    ("images async task, link", "images", {"task": "newapi", "tasktime": 0, "retry": 0.2}, "gpt-image-emulator",
     ["--size", "4096x4096"]),
]


def run_cli(env: dict, args: list[str]) -> tuple[float, float, dict]:
    cmd = [shutil.which("image-relay-generate") or "image-relay-generate", "--no-open", "--quiet", "--no-template",
           *args]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss * 1024, json.loads(out)


def curl_time(url: str, path: str, body: dict, headers: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    args = ["curl", "-sS", "-N", "-o", "/dev/null", "-w", "%{size_download}", "-X", "POST", "-H",
            "Content-Type: application/json", *[x for h in headers for x in ("-H", h)], "--data-binary", "@-",
            f"{url}{path}"]
    proc = subprocess.run(args, input=json.dumps(body).encode(), capture_output=True)
    return time.perf_counter() - started, int(proc.stdout or 0)


def raw_request(log: str) -> tuple[str, dict]:
    """The path and JSON body of the request a run's raw log recorded (the key is never in it)."""
    lines = Path(log).read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("POST "))
    path = lines[first].split(" ", 1)[1].replace("{gemini base}", "").replace("{base}", "")
    body = json.loads(next(line for line in lines[first:] if line.startswith("{")))
    return path, body


def main() -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    env.update({"IMAGE_RELAY_API_KEY": "bench", "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "IMAGE_RELAY_CLI_OPEN_IMAGE": "false"})
    emulator, port = start_emulator()
    out_dir = tempfile.mkdtemp(prefix="irb-bench-modes-")
    try:
        base = f"http://127.0.0.1:{port}/noise=1/v1"
        small_env = {**env, "IMAGE_RELAY_BASE_URL": base, "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-emulator"}
        baseline = max(run_cli(small_env, ["--size", "64x64", "--output-dir", out_dir, "baseline"])[1]
                       for _ in range(RUNS))
        print(f"baseline (a 64x64 image through responses): peak RSS {baseline:,} B ({baseline / MiB:.1f} MiB)")
        print(f"one 4096x4096 noise PNG per mode ({RUNS} runs each; peak RSS the largest, times the median):")
        for label, mode, options, model, args in CASES:
            prefix = "/".join(f"{k}={v}" for k, v in {"noise": 1, **options}.items())
            url = f"http://127.0.0.1:{port}/{prefix}/v1"
            case_env = {**env, "IMAGE_RELAY_BASE_URL": url, "IMAGE_RELAY_IMAGE_MODEL": model,
                        "IMAGE_RELAY_API_MODE": mode}
            cli_args = [*args, "--output-dir", out_dir, "bench modes heron"]
            run_cli(case_env, cli_args)  # the emulator draws it once; every run after reads the same bytes
            runs = [run_cli(case_env, cli_args) for _ in range(RUNS)]
            result = runs[-1][2]
            assert result["ok"], result
            peak = max(r[1] for r in runs)
            cli = sorted(r[0] for r in runs)[RUNS // 2]
            path, body = raw_request(result["raw_log_path"])
            gemini_base = url.removesuffix("/v1") + "/v1beta"
            curl, wire = curl_time(gemini_base if mode == "gemini" else url, path, body, ["Authorization: Bearer bench"])
            image = result["bytes"]
            print(f"  {label:<27} {result['actual_size']} | image {image:,} B, wire {wire / MiB:5.1f} MiB | "
                  f"peak RSS {peak:,} B ({peak / MiB:.1f} MiB) = baseline + {peak - baseline:,} B "
                  f"= {(peak - baseline) / image:4.2f} x the image | CLI {cli:.2f} s, curl {curl:.2f} s",
                  flush=True)
    finally:
        emulator.terminate()
        emulator.wait(10)
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

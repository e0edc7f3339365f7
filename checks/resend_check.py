#!/usr/bin/env python3
"""The real Qwen Code against a slow relay: a timed-out call that Qwen re-sends is paid once.

Qwen Code treats an MCP call past its per-server ``timeout`` as a broken connection: it restarts
the server and sends the same call again (three times). With ``timeout: 8000`` and a generation
paced at about 25 s by the emulator, this checks that the relay receives one generation request,
that the image is saved, and that the model is handed the image (on the re-sent call, or on its
next call). It prints a timeline: relay requests, image on disk, result seen by the model.

Run it through ``checks/check-resend`` (which installs Qwen Code and runs this inside a network
namespace with loopback only): ``python checks/resend_check.py QWEN_BIN``. The model is the
shared stand-in (``standin_model.py --script retry``): it finds the deferred tool with
``tool_search``, calls it, and calls it again with the same arguments while a call fails, as a
model told "Request timed out" does.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SERVER = "imagerelay"
TOOL = "generate_image"
PROMPT = "a lighthouse at dusk, re-sent"
ARGUMENTS = {"prompt": PROMPT, "size": "1024x1024"}
PACING = 3.7  # seconds between emulator events: about 25 s for one generation
TIMEOUT_MS = 8000
T0 = time.monotonic()
WALL0 = time.time()


def now() -> float:
    return round(time.monotonic() - T0, 1)


def standin(work: Path) -> tuple[subprocess.Popen, int, Path]:
    """The shared stand-in model, playing the retry script; its port and its request record."""
    record, port_file = work / "model-requests.jsonl", work / "model.port"
    proc = subprocess.Popen([sys.executable, str(HERE / "standin_model.py"), "--port-file", str(port_file),
                             "--record", str(record), "--script", "retry", "--arguments", json.dumps(ARGUMENTS)])
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("resend_check: the stand-in model did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text()), record


def results_seen(record: Path, started: float) -> list[tuple[float, str]]:
    """(seconds, text) of each generate_image result, at the model request that first carried it."""
    import standin_chat
    out: list[tuple[float, str]] = []
    for line in record.read_text(encoding="utf-8").splitlines() if record.exists() else []:
        entry = json.loads(line)
        body = entry["body"]
        if not body.get("tools"):
            continue
        _, tool = standin_chat.plan(body, lambda names: (names or [None])[0])
        texts = [text for text, _ in standin_chat.results(body, tool or TOOL)]
        if not tool:  # called through tool_call: the tool's full name is in the search result
            tool = standin_chat.deferred(body)
            texts = [text for text, _ in standin_chat.results(body, tool)] if tool else []
        for text in texts[len(out):]:
            out.append((round(entry["time"] - started, 1), text))
    return out


def main() -> int:
    qwen = sys.argv[1] if len(sys.argv) > 1 else "qwen"
    work = Path(tempfile.mkdtemp(prefix="check-resend-"))
    home, project = work / "home", work / "project"
    for folder in (home, project):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".local/state"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               STANDIN_KEY="sk-standin-model-key", NO_BROWSER="1")
    os.environ.update({k: env[k] for k in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")})
    from bridge.emulator import start_emulator

    model, model_port, record = standin(work)
    with start_emulator() as emulator:
        tag = uuid.uuid4().hex[:8]
        relay = emulator.url(delay=PACING, tag=tag)
        settings = {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "standin"},
            "modelProviders": {"openai": [{"id": "standin", "name": "standin",
                                           "baseUrl": f"http://127.0.0.1:{model_port}/v1",
                                           "envKey": "STANDIN_KEY"}]},
            # Each server start leaves a line in starts.log, so the timeline shows Qwen's restarts.
            "mcpServers": {SERVER: {"command": "sh", "args": ["-c", f'echo >>"{work}/starts.log"; exec "$0" -m '
                                                            'bridge.server.app', sys.executable], "cwd": str(project),
                                    "timeout": TIMEOUT_MS, "trust": True,
                                    "env": {"IMAGE_RELAY_BASE_URL": relay, "IMAGE_RELAY_API_KEY": "sk-fake-relay-key",
                                            "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "CLAUDE_PROJECT_DIR": str(project)}}},
        }
        (home / ".qwen").mkdir()
        (home / ".qwen" / "settings.json").write_text(json.dumps(settings, indent=1))
        seen: list[tuple[float, str]] = []
        image_at: list[float] = []
        server_starts: list[float] = []
        done = threading.Event()

        def watch() -> None:
            count = 0
            while not done.is_set():
                hits = [r for r in list(emulator.requests) if r.options.get("tag") == tag and r.method == "POST"]
                for request in hits[count:]:
                    seen.append((now(), request.path))
                count = len(hits)
                starts = (work / "starts.log").read_text().count("\n") if (work / "starts.log").exists() else 0
                while len(server_starts) < starts:
                    server_starts.append(now())
                outputs = project / "outputs"
                if not image_at and outputs.exists() and any(p.suffix == ".png" for p in outputs.iterdir()):
                    image_at.append(now())
                time.sleep(0.05)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = now()
        run = subprocess.run([qwen, "-p", f"Draw {PROMPT} with the image tool.", "--yolo", "--output-format", "json"],
                             cwd=project, env=env, capture_output=True, text=True, timeout=300)
        ended = now()
        deadline = time.monotonic() + 40
        while not image_at and time.monotonic() < deadline:  # a job outlives a client that gave up
            time.sleep(0.2)
        time.sleep(0.3)
        done.set()
        watcher.join()
    model.terminate()
    model.wait()
    seen_results = results_seen(record, WALL0)
    requests = len(record.read_text(encoding="utf-8").splitlines()) if record.exists() else 0

    print(f"qwen exit {run.returncode} after {ended - started:.1f} s; stand-in model requests: {requests}")
    events = [(at, f"server started (start {i + 1})") for i, at in enumerate(server_starts)]
    events += [(at, f"relay request POST {path}") for at, path in seen]
    events += [(at, "image on disk") for at in image_at]
    events += [(at, "generate_image result seen by the model: " + " | ".join(text.splitlines()[:1] + [
        line for line in text.splitlines() if "joined" in line])[:400]) for at, text in seen_results]
    for at, what in sorted(events):
        print(f"  {at:6.1f} s  {what}")
    finals = [p for p in (project / "outputs").glob("*.png") if "-partial-" not in p.name] \
        if (project / "outputs").exists() else []
    checks = {
        "the relay received one generation request": len(seen) == 1,
        "one image was saved": len(finals) == 1,
        "the model was handed the image": any(t.lstrip().startswith("![") and str(finals[0]) in t
                                              for _, t in seen_results) if finals else False,
        "the key stayed out of the job folder": all(b"sk-fake-relay-key" not in p.read_bytes() for p in
                                                    (home / ".local/state").rglob("*") if p.is_file()),
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if not all(checks.values()):
        print("qwen stdout:", run.stdout[-3000:], "\nqwen stderr:", run.stderr[-3000:], sep="\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

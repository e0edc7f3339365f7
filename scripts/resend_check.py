#!/usr/bin/env python3
"""The real Qwen Code against a slow relay: a timed-out call that Qwen re-sends is paid once.

Qwen Code treats an MCP call past its per-server ``timeout`` as a broken connection: it restarts
the server and sends the same call again (three times). With ``timeout: 8000`` and a generation
paced at about 25 s by the emulator, this checks that the relay receives one generation request,
that the image is saved, and that the model is handed the image (on the re-sent call, or on its
next call). It prints a timeline: relay requests, image on disk, result seen by the model.

Run it through ``scripts/check-resend`` (which installs Qwen Code and runs this inside a network
namespace with loopback only): ``python scripts/resend_check.py QWEN_BIN``. The stand-in model
here speaks just enough streamed Chat Completions for Qwen Code: it finds the deferred tool with
``tool_search``, calls it through ``tool_call`` (or directly once it is loaded), and calls it once
again with the same arguments while a call fails (up to five calls), as a model does when it is
told "Request timed out".
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SERVER = "imagerelay"
TOOL = "generate_image"
PROMPT = "a lighthouse at dusk, re-sent"
ARGUMENTS = {"prompt": PROMPT, "size": "1024x1024"}
PACING = 3.7  # seconds between emulator events: about 25 s for one generation
TIMEOUT_MS = 8000
ATTEMPTS = 5  # a model that is told "Request timed out" calls again with the same arguments, a few times
T0 = time.monotonic()


def now() -> float:
    return round(time.monotonic() - T0, 1)


class Model:
    """The stand-in's memory: what it saw, and when the model first saw the image."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.results: list[tuple[float, str]] = []  # (time first seen, text) of generate_image results
        self.lock = threading.Lock()

    def turn(self, body: dict) -> tuple[str, object, str | None]:
        tools = {(t.get("function") or t).get("name", ""): (t.get("function") or t) for t in body.get("tools") or []}
        calls = [c for m in body.get("messages", []) if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
        by_id = {c.get("id"): c for c in calls}
        ours = []
        for message in body.get("messages", []):
            call = by_id.get(message.get("tool_call_id")) if message.get("role") == "tool" else None
            if call is None:
                continue
            name, args = call["function"]["name"], _json(call["function"].get("arguments"))
            if name.endswith(TOOL) or (name == "tool_call" and str(args.get("name", "")).endswith(TOOL)):
                ours.append(_text(message.get("content")))
        with self.lock:
            for text in ours[len(self.results):]:
                self.results.append((now(), text))
        direct = next((n for n in tools if n.endswith(TOOL)), None)
        if ours and ours[-1].lstrip().startswith("!["):
            return "say", "Here is the image: " + ours[-1].splitlines()[0], None
        if len(ours) >= ATTEMPTS:
            return "say", f"The image tool failed {len(ours)} times.", None
        if direct:
            return "call", ARGUMENTS, direct
        searched = [c for c in calls if c["function"]["name"] == "tool_search"]
        if not searched and "tool_search" in tools:
            props = list((tools["tool_search"].get("parameters") or {}).get("properties") or {"query": 0})
            return "call", {props[0]: TOOL}, "tool_search"
        found = None
        for message in body.get("messages", []):
            if message.get("role") == "tool" and message.get("tool_call_id") in {c.get("id") for c in searched}:
                match = re.search(r'"?name"?\s*[:=]\s*"([^"]*' + TOOL + ')"', _text(message.get("content")))
                found = found or (match.group(1) if match else None)
        if found and "tool_call" in tools:
            props = list((tools["tool_call"].get("parameters") or {}).get("properties") or {})
            name_key = next((p for p in props if "name" in p), "name")
            args_key = next((p for p in props if "arg" in p or "input" in p or "param" in p), "arguments")
            return "call", {name_key: found, args_key: ARGUMENTS}, "tool_call"
        return "say", "No image tool is available.", None


def _json(text) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(content) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def serve_model(model: Model) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": "standin", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with model.lock:
                model.requests.append(body)
            action, value, name = model.turn(body) if body.get("tools") else ("say", "ok", None)
            base = {"id": "chatcmpl-" + uuid.uuid4().hex[:10], "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": body.get("model", "standin")}
            if action == "call":
                delta = {"role": "assistant", "content": None, "tool_calls": [{"index": 0, "id": "call_" + uuid.uuid4().hex[:10],
                         "type": "function", "function": {"name": name, "arguments": json.dumps(value)}}]}
                finish = "tool_calls"
            else:
                delta, finish = {"role": "assistant", "content": value}, "stop"
            if not body.get("stream"):
                message = {k: v for k, v in delta.items()}
                for call in message.get("tool_calls") or []:
                    call.pop("index", None)
                self._json({**base, "object": "chat.completion", "choices": [{"index": 0, "message": message,
                            "finish_reason": finish}], "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                                 "total_tokens": 2}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in ({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                          {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
                          {**base, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                            "total_tokens": 2}}):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _json(self, value: dict) -> None:
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


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

    model = Model()
    httpd = serve_model(model)
    with start_emulator() as emulator:
        tag = uuid.uuid4().hex[:8]
        relay = emulator.url(delay=PACING, tag=tag)
        settings = {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "standin"},
            "modelProviders": {"openai": [{"id": "standin", "name": "standin",
                                           "baseUrl": f"http://127.0.0.1:{httpd.server_port}/v1",
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
    httpd.shutdown()

    print(f"qwen exit {run.returncode} after {ended - started:.1f} s; stand-in model requests: {len(model.requests)}")
    events = [(at, f"server started (start {i + 1})") for i, at in enumerate(server_starts)]
    events += [(at, f"relay request POST {path}") for at, path in seen]
    events += [(at, "image on disk") for at in image_at]
    events += [(at, "generate_image result seen by the model: " + " | ".join(text.splitlines()[:1] + [
        line for line in text.splitlines() if "joined" in line])[:400]) for at, text in model.results]
    for at, what in sorted(events):
        print(f"  {at:6.1f} s  {what}")
    finals = [p for p in (project / "outputs").glob("*.png") if "-partial-" not in p.name] \
        if (project / "outputs").exists() else []
    checks = {
        "the relay received one generation request": len(seen) == 1,
        "one image was saved": len(finals) == 1,
        "the model was handed the image": any(t.lstrip().startswith("![") and str(finals[0]) in t
                                              for _, t in model.results) if finals else False,
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

#!/usr/bin/env python3
"""Drive the real Claude Code and Codex agent loops against a stand-in model and check what the
model receives from generate_image.

Run by checks/check-plugins after the plugin is installed in both clients (HOME is the
throwaway home it made). For each client: the tool is offered on the first model request; the
first text the model reads of the result starts with '![' ; a preview image block arrives for a
1024x1024 and a 3840x2160 image; and after a forced client time limit the image still lands on
disk and a job_id call returns it. Codex's first request is checked over --runs sessions.

Prints one 'ok'/'FAIL' line per check and a table of what the model received; exit 0 when all
checks passed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLAUDE_TOOL = "mcp__plugin_image-relay-bridge_image-relay-bridge__generate_image"
failures = 0


def report(ok: bool, text: str) -> None:
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {text}", flush=True)
    failures += 0 if ok else 1


class StandIn:
    """The stand-in model server, one per scenario, recording every request."""

    def __init__(self, work: Path, name: str, script: str, arguments: dict, watch: Path | None = None,
                 prefer: str | None = None) -> None:
        self.record = work / f"{name}.jsonl"
        self.record.write_text("", encoding="utf-8")
        port_file = work / f"{name}.port"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, str(HERE / "standin_model.py"), "--port-file", str(port_file),
                   "--record", str(self.record), "--script", script, "--arguments", json.dumps(arguments)]
        if watch is not None:
            command += ["--watch", str(watch)]
        if prefer is not None:
            command += ["--prefer", prefer]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text(encoding="utf-8"):
            if time.monotonic() > deadline:
                raise SystemExit("the stand-in model did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text(encoding="utf-8"))

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines() if line.strip()]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(5)


# -- what the model received ---------------------------------------------------------------

def claude_results(requests: list[dict]) -> list[list[tuple[str, int, str]]]:
    """Per tool result of ours, its blocks as (type, size, text-or-mime)."""
    out, seen = [], set()
    for request in requests:
        for message in request["body"].get("messages", []):
            for block in message.get("content") if isinstance(message.get("content"), list) else []:
                if block.get("type") != "tool_result" or block.get("tool_use_id") in seen:
                    continue
                seen.add(block.get("tool_use_id"))
                content = block.get("content")
                content = content if isinstance(content, list) else [{"type": "text", "text": str(content)}]
                blocks = []
                for item in content:
                    if item.get("type") == "text":
                        blocks.append(("text", len(item["text"]), item["text"]))
                    elif item.get("type") == "image":
                        source = item.get("source", {})
                        blocks.append(("image", len(source.get("data", "")) * 3 // 4, source.get("media_type", "")))
                out.append(blocks)
    return out


def codex_results(requests: list[dict]) -> list[list[tuple[str, int, str]]]:
    out, seen = [], set()
    for request in requests:
        for item in request["body"].get("input", []):
            if item.get("type") != "function_call_output" or item.get("call_id") in seen:
                continue
            seen.add(item.get("call_id"))
            output = item.get("output")
            output = output if isinstance(output, list) else [{"type": "input_text", "text": str(output)}]
            blocks = []
            for part in output:
                if part.get("type") == "input_text":
                    blocks.append(("text", len(part["text"]), part["text"]))
                elif part.get("type") == "input_image":
                    url = part.get("image_url", "")
                    blocks.append(("image", len(url.partition(",")[2]) * 3 // 4, url[5:url.find(";")]))
            out.append(blocks)
    return out


def model_text(blocks: list[tuple[str, int, str]]) -> str:
    """The server's own text as the model reads it (Codex puts 'Wall time: …\\nOutput:' first)."""
    texts = [text for kind, _, text in blocks if kind == "text"]
    if texts and texts[0].startswith("Wall time"):
        rest = texts[0].split("Output:", 1)[1].lstrip("\n") if "Output:" in texts[0] else ""
        texts = ([rest] if rest else []) + texts[1:]
    return "\n".join(texts)


def shape(blocks: list[tuple[str, int, str]]) -> str:
    return ", ".join(f"{kind} {size} B" + (f" {detail}" if kind == "image" else "") for kind, size, detail in blocks)


def first_tools(requests: list[dict], client: str) -> bool:
    body = next((r["body"] for r in requests if r["body"].get("tools")), {})
    text = json.dumps(body.get("tools", []))
    return (CLAUDE_TOOL in text) if client == "claude" else ("mcp__image_relay_bridge" in text and "generate_image" in text)


# -- the clients -----------------------------------------------------------------------------

def run_claude(standin: StandIn, cwd: Path, prompt: str, env: dict, extra: list[str] | None = None,
               timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{standin.port}", "ANTHROPIC_API_KEY": "sk-ant-standin"}
    command = ["claude", "-p", prompt, "--output-format", "json", "--allowedTools", CLAUDE_TOOL, *(extra or [])]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def codex_config(home: Path, port: int, extra: str = "") -> None:
    """Point Codex at the stand-in: top-level keys must come before every table."""
    config = home / ".codex" / "config.toml"
    original = config.with_suffix(".toml.orig")
    if not original.exists():
        shutil.copy(config, original)
    head = (f'model = "standin"\nmodel_provider = "standin"\n\n[model_providers.standin]\nname = "standin"\n'
            f'base_url = "http://127.0.0.1:{port}/v1"\nwire_api = "responses"\n\n')
    config.write_text(head + original.read_text() + extra, encoding="utf-8")


def run_codex(cwd: Path, prompt: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    command = ["codex", "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", prompt]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# -- scenarios -------------------------------------------------------------------------------

def check_image(client: str, work: Path, project: Path, env: dict, size: str, table: list) -> None:
    arguments = {"prompt": f"a red fox in the snow at {size}", "size": size}
    standin = StandIn(work, f"{client}-{size}", "image", arguments)
    try:
        if client == "claude":
            run = run_claude(standin, project, "Make an image of a red fox in the snow.", env)
        else:
            codex_config(Path(env["HOME"]), standin.port)
            run = run_codex(project, "Make an image of a red fox in the snow.", env)
    finally:
        standin.stop()
    requests = standin.requests()
    results = claude_results(requests) if client == "claude" else codex_results(requests)
    report(first_tools(requests, client), f"{client} {size}: generate_image offered in the first model request")
    if not results:
        report(False, f"{client} {size}: the model never received a tool result (exit {run.returncode}: "
                      f"{(run.stderr or run.stdout)[-300:]!r})")
        return
    text = model_text(results[0])
    report(text.startswith("!["), f"{client} {size}: the first text the model reads starts with '![': {text[:60]!r}")
    images = [b for b in results[0] if b[0] == "image"]
    report(bool(images) and images[0][1] < 1_000_000,
           f"{client} {size}: a preview image block reached the model ({shape(images) or 'none'})")
    saved = re.search(r"^Saved (.+?) \((\d+x\d+), (\w+), (\d+) bytes\)", text, re.M)
    report(bool(saved) and Path(saved.group(1)).is_file() and saved.group(2) == size,
           f"{client} {size}: the saved file exists at its full size ({saved.group(4) if saved else '?'} bytes)")
    table.append((client, size, shape(results[0]), saved.group(4) if saved else "?"))


def check_timeout_recovery(client: str, work: Path, project: Path, env: dict, slow_base: str,
                           timeline: list) -> None:
    """A client time limit of 5 s on a ~15 s generation: the job runs on and a job_id call returns it."""
    outputs = project / f"timeout-outputs-{client}"
    env = {**env, "IMAGE_RELAY_BASE_URL": slow_base, "IMAGE_RELAY_MCP_WAIT_SECONDS": "120",
           "IMAGE_RELAY_OUTPUT_DIR": str(outputs)}
    arguments = {"prompt": f"a slow heron for {client}", "size": "1024x1024", "partial_images": 3}
    standin = StandIn(work, f"{client}-timeout", "recover", arguments, watch=outputs, prefer="mcp__relay")
    started = time.monotonic()
    try:
        if client == "claude":
            # A hand-registered server with a 5 s limit (the plugin's own entry allows 600 s).
            config = work / "claude-timeout-mcp.json"
            config.write_text(json.dumps({"mcpServers": {"relay": {"type": "stdio", "command": "image-relay-mcp",
                                                                   "timeout": 5000}}}), encoding="utf-8")
            run = run_claude(standin, project, "Make an image of a slow heron.", env,
                             ["--mcp-config", str(config), "--strict-mcp-config", "--allowedTools",
                              "mcp__relay__generate_image"])
        else:
            extra = ('\n[mcp_servers.relay]\ncommand = "image-relay-mcp"\ntool_timeout_sec = 5\n'
                     f'env = {{ IMAGE_RELAY_BASE_URL = "{slow_base}", IMAGE_RELAY_MCP_WAIT_SECONDS = "120", '
                     f'IMAGE_RELAY_OUTPUT_DIR = "{outputs}" }}\n')
            codex_config(Path(env["HOME"]), standin.port, extra)
            run = run_codex(project, "Make an image of a slow heron.", env)
    finally:
        standin.stop()
    requests = standin.requests()
    t0 = requests[0]["time"] if requests else 0
    results = claude_results(requests) if client == "claude" else codex_results(requests)
    texts = [model_text(blocks) for blocks in results]
    arrivals = [round(r["time"] - t0, 1) for r in requests if r["body"].get("tools")][1:]
    finals = sorted(p for p in outputs.glob("*heron*") if "-partial-" not in p.name) if outputs.exists() else []
    report(len(texts) >= 1 and not texts[0].startswith("!["),
           f"{client} timeout: the first call hit the client's limit ({texts[0][:70]!r})" if texts else
           f"{client} timeout: no tool result at all (exit {run.returncode})")
    report(bool(finals), f"{client} timeout: the image still landed on disk ({finals[0].name if finals else 'none'})")
    notice = next((t for t in texts[1:2] if "Earlier job" in t), "")  # finished, or still running
    report(bool(notice), f"{client} timeout: the next result reported the earlier job "
                         f"({re.search(r'Earlier job [^:]+', notice).group(0) if notice else 'no notice'})")
    recovered = texts[2] if len(texts) > 2 else ""
    report(recovered.startswith("![") and "heron" in recovered.splitlines()[0],
           f"{client} timeout: a job_id call returned the image ({recovered.splitlines()[0][:80] if recovered else 'none'})")
    timeline.append((client, arrivals, [t.splitlines()[0][:90] if t else "" for t in texts],
                     round(time.monotonic() - started, 1)))


def check_codex_first_turn(work: Path, project: Path, env: dict, runs: int) -> None:
    standin = StandIn(work, "codex-first-turn", "image", {"prompt": "a dot", "size": "64x64"})
    try:
        codex_config(Path(env["HOME"]), standin.port)
        for i in range(runs):
            run_codex(project, f"Make image number {i + 1}.", env, timeout=120)
    finally:
        standin.stop()
    firsts = [r for r in standin.requests()
              if r["body"].get("tools") and not any(i.get("type") == "function_call_output"
                                                    for i in r["body"].get("input", []))]
    offered = sum(1 for r in firsts if first_tools([r], "codex"))
    report(len(firsts) == runs and offered == runs,
           f"codex: generate_image in the first model request in {offered} of {len(firsts)} sessions")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder")
    parser.add_argument("--project", type=Path, required=True, help="the folder the clients run in")
    parser.add_argument("--slow-base-url", required=True, help="the emulator, paced so a 1024x1024 image takes ~15 s")
    parser.add_argument("--runs", type=int, default=10, help="Codex sessions for the first-turn check")
    parser.add_argument("--only", choices=("claude-image",), help="run one check: Claude Code, one 1024x1024 image")
    args = parser.parse_args()
    env = {**os.environ, "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    table: list = []
    timeline: list = []
    if args.only == "claude-image":
        check_image("claude", args.work, args.project, env, "1024x1024", table)
        print(f"agent-loop: {failures} failed")
        return 1 if failures else 0
    for client in ("claude", "codex"):
        for size in ("1024x1024", "3840x2160"):
            check_image(client, args.work, args.project, env, size, table)
        check_timeout_recovery(client, args.work, args.project, env, args.slow_base_url, timeline)
    check_codex_first_turn(args.work, args.project, env, args.runs)
    print("\nWhat the model received from generate_image:")
    for client, size, blocks, saved in table:
        print(f"  {client:<6} {size:<9}  {blocks}   (file: {saved} bytes)")
    print("\nA call past the client's limit (model requests at s; what each tool result began with):")
    for client, arrivals, firsts, total in timeline:
        print(f"  {client}: requests at {arrivals} s, whole loop {total} s")
        for text in firsts:
            print(f"    {text}")
    print(f"\nagent-loop: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

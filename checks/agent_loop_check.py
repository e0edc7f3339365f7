#!/usr/bin/env python3
"""Drive the real Claude Code and Codex agent loops against a stand-in model and check what the
model receives from generate_image.

Run by checks/check-plugins after the plugin is installed in both clients (HOME is the
throwaway home it made), inside a network namespace with loopback only, once per pinned Claude Code
release (--claude). The relay is an emulator of this process's own, so every scenario counts the
generations that reach it. For each client: the tool is offered on the first model request (Claude
Code 2.1.332 defers it behind ToolSearch: the stand-in looks it up by the words a user would use,
and each search must list it first); the first text the model reads of the result starts with '![';
a preview image block arrives for a 1024x1024 and a 3840x2160 image; after a forced client time
limit the image still lands on disk and a job_id call returns it. Then an interactive Claude Code
session in tmux: the release that takes MCP tasks tells the model at once that the image is being
made and hands it the tag later as a task notification; the one that does not blocks and hands it
the tag. Codex's first request is checked over --runs sessions. One generation per image, always.

Prints one 'ok'/'FAIL' line per check and tables of what the model received and when; exit 0 when
all checks passed.
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
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import claude_session  # noqa: E402 - the check's own modules, beside it
import standin_anthropic  # noqa: E402

CLAUDE_TOOL = "mcp__plugin_image-relay-bridge_image-relay-bridge__generate_image"
USER_WORDS = "image,picture,draw,图片"  # what a user says; a search for each must find generate_image first
TASKS_MEASURED = (2, 1, 332)  # the release measured to take MCP tasks (2.1.197 does not)
failures = 0


def report(ok: bool, text: str) -> None:
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {text}", flush=True)
    failures += 0 if ok else 1


class StandIn:
    """The stand-in model server, one per scenario, recording every request."""

    def __init__(self, work: Path, name: str, script: str, arguments: dict, watch: Path | None = None,
                 prefer: str | None = None, search: str | None = None) -> None:
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
        if search is not None:
            command += ["--search", search]
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
    """Per tool result of ours (not ToolSearch's), its blocks as (type, size, text-or-mime)."""
    out, seen = [], set()
    for request in requests:
        messages = request["body"].get("messages", [])
        ours = {b["id"] for m in messages for b in standin_anthropic.blocks(m)
                if b.get("type") == "tool_use" and b.get("name", "").endswith("generate_image")}
        for message in messages:
            for block in standin_anthropic.blocks(message):
                if block.get("type") != "tool_result" or block.get("tool_use_id") not in ours - seen:
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
    """The server's own text as the model reads it (Codex puts 'Wall time: …\nOutput:' first)."""
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


def check_found(claude: Claude, requests: list[dict], label: str) -> None:
    """How the model got the tool: offered at once (2.1.197), or deferred and found by every user word."""
    first = next((r["body"] for r in requests if r["body"].get("tools")), {})
    if claude.defers:
        named = CLAUDE_TOOL in json.dumps([first.get("system"), first.get("messages")]) \
            and not first_tools(requests, "claude")
        report(named, f"{label}: generate_image deferred (named in a system text, not in the first request's tools)")
        last = requests[-1]["body"] if requests else {}
        answered = {query: names for query, names, _ in standin_anthropic.searches(last)}  # each word's last search
        words = USER_WORDS.split(",")
        report(all(answered.get(word, [])[:1] == [CLAUDE_TOOL] for word in words),
               f"{label}: ToolSearch lists generate_image first for each of {words}: "
               + "; ".join(f"{word!r} -> {answered.get(word, [])[:2]}" for word in words))
    else:
        report(first_tools(requests, "claude"), f"{label}: generate_image offered in the first model request")


# -- the clients -----------------------------------------------------------------------------

class Claude:
    """One pinned Claude Code release: its executable and version."""

    def __init__(self, path: str) -> None:
        self.path = path
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60).stdout
        found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
        self.version = tuple(int(n) for n in found.groups()) if found else (0, 0, 0)
        self.name = "claude " + ".".join(map(str, self.version))
        self.tasks = self.version >= TASKS_MEASURED  # interactive sessions declare the MCP tasks extension
        self.defers = self.version >= TASKS_MEASURED  # plugin MCP tools sit behind ToolSearch


def run_claude(claude: Claude, standin: StandIn, cwd: Path, prompt: str, env: dict, extra: list[str] | None = None,
               timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{standin.port}", "ANTHROPIC_API_KEY": "sk-ant-standin"}
    command = [claude.path, "-p", prompt, "--output-format", "json", "--allowedTools", f"{CLAUDE_TOOL},ToolSearch",
               *(extra or [])]
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


class Relay:
    """The emulator of this check; each scenario's requests carry a tag of their own, to count them."""

    def __init__(self) -> None:
        from bridge.emulator import start_emulator
        self._context = start_emulator()
        self.emulator = self._context.__enter__()

    def url(self, tag: str, delay: float = 0.0) -> str:
        return self.emulator.url(tag=tag, delay=delay) if delay else self.emulator.url(tag=tag)

    def generations(self, tag: str) -> int:
        return len([r for r in list(self.emulator.requests) if r.options.get("tag") == tag and r.method == "POST"])

    def close(self) -> None:
        self._context.__exit__(None, None, None)


# -- scenarios -------------------------------------------------------------------------------

def check_image(client: str, claude: Claude | None, work: Path, project: Path, env: dict, relay: Relay, size: str,
                table: list) -> None:
    label = f"{claude.name if claude else client} {size}"
    tag = f"{client}-{size}-{uuid.uuid4().hex[:6]}"
    arguments = {"prompt": f"a red fox in the snow at {size}", "size": size}
    env = {**env, "IMAGE_RELAY_BASE_URL": relay.url(tag)}
    standin = StandIn(work, f"{label.replace(' ', '-')}", "image", arguments, search=USER_WORDS)
    try:
        if claude:
            run = run_claude(claude, standin, project, "Make an image of a red fox in the snow.", env)
        else:
            codex_config(Path(env["HOME"]), standin.port)
            run = run_codex(project, "Make an image of a red fox in the snow.", env)
    finally:
        standin.stop()
    requests = standin.requests()
    results = claude_results(requests) if claude else codex_results(requests)
    if claude:
        check_found(claude, requests, label)
    else:
        report(first_tools(requests, client), f"{label}: generate_image offered in the first model request")
    if not results:
        report(False, f"{label}: the model never received a tool result (exit {run.returncode}: "
                      f"{(run.stderr or run.stdout)[-300:]!r})")
        return
    text = model_text(results[0])
    report(text.startswith("!["), f"{label}: the first text the model reads starts with '![': {text[:60]!r}")
    images = [b for b in results[0] if b[0] == "image"]
    report(bool(images) and images[0][1] < 1_000_000,
           f"{label}: a preview image block reached the model ({shape(images) or 'none'})")
    saved = re.search(r"^Saved (.+?) \((\d+x\d+), (\w+), (\d+) bytes\)", text, re.M)
    report(bool(saved) and Path(saved.group(1)).is_file() and saved.group(2) == size,
           f"{label}: the saved file exists at its full size ({saved.group(4) if saved else '?'} bytes)")
    report(relay.generations(tag) == 1, f"{label}: one generation reached the relay ({relay.generations(tag)})")
    table.append((label, shape(results[0]), saved.group(4) if saved else "?"))


def check_timeout_recovery(client: str, claude: Claude | None, work: Path, project: Path, env: dict, relay: Relay,
                           timeline: list) -> None:
    """A client time limit of 5 s on a ~15 s generation: the job runs on and a job_id call returns it."""
    label = claude.name if claude else client
    outputs = project / f"timeout-outputs-{label.replace(' ', '-')}"
    shutil.rmtree(outputs, ignore_errors=True)  # the stand-in waits for the first image to land here
    tag = f"{client}-timeout-{uuid.uuid4().hex[:6]}"
    slow = relay.url(tag, delay=1.5)  # a 1024x1024 image with 3 partials takes ~15 s
    env = {**env, "IMAGE_RELAY_BASE_URL": slow, "IMAGE_RELAY_MCP_WAIT_SECONDS": "120",
           "IMAGE_RELAY_OUTPUT_DIR": str(outputs)}
    arguments = {"prompt": f"a slow heron for {client}", "size": "1024x1024", "partial_images": 3}
    standin = StandIn(work, f"{label.replace(' ', '-')}-timeout", "recover", arguments, watch=outputs,
                      prefer="mcp__relay")
    started = time.monotonic()
    try:
        if claude:
            # A hand-registered server with a 5 s limit (the plugin's own entry allows 600 s).
            config = work / "claude-timeout-mcp.json"
            config.write_text(json.dumps({"mcpServers": {"relay": {"type": "stdio", "command": "image-relay-mcp",
                                                                   "timeout": 5000}}}), encoding="utf-8")
            run = run_claude(claude, standin, project, "Make an image of a slow heron.", env,
                             ["--mcp-config", str(config), "--strict-mcp-config", "--allowedTools",
                              "mcp__relay__generate_image"])
        else:
            extra = ('\n[mcp_servers.relay]\ncommand = "image-relay-mcp"\ntool_timeout_sec = 5\n'
                     f'env = {{ IMAGE_RELAY_BASE_URL = "{slow}", IMAGE_RELAY_MCP_WAIT_SECONDS = "120", '
                     f'IMAGE_RELAY_OUTPUT_DIR = "{outputs}" }}\n')
            codex_config(Path(env["HOME"]), standin.port, extra)
            run = run_codex(project, "Make an image of a slow heron.", env)
    finally:
        standin.stop()
    requests = standin.requests()
    t0 = requests[0]["time"] if requests else 0
    results = claude_results(requests) if claude else codex_results(requests)
    texts = [model_text(blocks) for blocks in results]
    arrivals = [round(r["time"] - t0, 1) for r in requests if r["body"].get("tools")][1:]
    finals = sorted(p for p in outputs.glob("*heron*") if "-partial-" not in p.name) if outputs.exists() else []
    report(len(texts) >= 1 and not texts[0].startswith("!["),
           f"{label} timeout: the first call hit the client's limit ({texts[0][:70]!r})" if texts else
           f"{label} timeout: no tool result at all (exit {run.returncode})")
    report(bool(finals), f"{label} timeout: the image still landed on disk ({finals[0].name if finals else 'none'})")
    notice = next((t for t in texts[1:2] if "Earlier job" in t), "")  # finished, or still running
    report(bool(notice), f"{label} timeout: the next result reported the earlier job "
                         f"({re.search(r'Earlier job [^:]+', notice).group(0) if notice else 'no notice'})")
    recovered = texts[2] if len(texts) > 2 else ""
    report(recovered.startswith("![") and "heron" in recovered.splitlines()[0],
           f"{label} timeout: a job_id call returned the image ({recovered.splitlines()[0][:80] if recovered else 'none'})")
    report(relay.generations(tag) == 2, f"{label} timeout: two generations reached the relay, the heron's and the "
                                         f"square's ({relay.generations(tag)})")
    timeline.append((label, arrivals, [t.splitlines()[0][:90] if t else "" for t in texts],
                     round(time.monotonic() - started, 1)))


BACKGROUND_MS = 8000  # the background move, brought forward from Claude Code's 120 s so the check is short


def check_interactive(claude: Claude, work: Path, project: Path, env: dict, relay: Relay, sessions: list,
                      background: bool = False) -> None:
    """A user types a request into the terminal interface; the model must get the tag, paid once. With
    ``background``, tasks are off (CLAUDE_CODE_DISABLE_MCP_TASKS) and the blocking call is moved to the
    background: the plugin's budget keeps it waiting there, so the image still comes from that one call."""
    label = f"{claude.name} interactive" + (", tasks off" if background else "")
    tag = f"interactive-{uuid.uuid4().hex[:6]}"
    key = "sk-ant-standin-interactive-0123456789"
    arguments = {"prompt": f"an {'unhurried' if background else 'interactive'} heron for {claude.name}",
                 "size": "1024x1024", "partial_images": 2}
    standin = StandIn(work, label.replace(" ", "-").replace(",", ""), "image", arguments)
    claude_session.prepare(Path(env["HOME"]), project, key)
    session = claude_session.Session(work, f"claude-{'-'.join(map(str, claude.version))}")
    env = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{standin.port}", "ANTHROPIC_API_KEY": key,
           "IMAGE_RELAY_BASE_URL": relay.url(tag, delay=1.5)}  # ~15 s for the image
    if background:
        env.update(CLAUDE_CODE_DISABLE_MCP_TASKS="1", CLAUDE_CODE_MCP_AUTO_BACKGROUND_MS=str(BACKGROUND_MS))
    try:
        session.start([claude.path, "--allowedTools", f"{CLAUDE_TOOL},ToolSearch"], project, env)
        ready = session.wait_for(claude_session.READY, 90)
        report(ready, f"{label}: the interface is ready for input")
        typed = time.time()
        session.type("Make an image of a heron, please.")
        replied = ready and session.wait_for("Here is the image", 180)
        screen = session.screen()
    finally:
        session.close()
        standin.stop()
    requests = standin.requests()
    results = [(r["time"], standin_anthropic.results(r["body"], CLAUDE_TOOL)) for r in requests]
    told = next(((t, found[0][0]) for t, found in results if found), (None, ""))
    tag_at = next(((t, found[-1][0]) for t, found in results if found and found[-1][0].startswith("![")), (None, ""))
    job = _job(tag_at[1]) or _job(told[1])
    report(replied, f"{label}: the model's reply with the tag is on the screen")
    if not replied:
        print("\n".join("     > " + line for line in screen.rstrip().splitlines()[-25:]))
    if claude.tasks:
        heard = r"is still running after \d+s\. It was moved to the background" if background else \
            r"started server-side task job_[0-9a-f]+"
        report(bool(re.search(heard, told[1])) and job is not None and told[0] < job.get("finished", 0),
               f"{label}: the model heard that the image is being made, before it was: {told[1][:100]!r}")
        report(_said_waiting(screen), f"{label}: the model told the user so before the image existed")
        report(tag_at[0] is not None and "<task-notification>" in _last_user_text(requests, tag_at[0]),
               f"{label}: the tag reached the model as a task notification: {tag_at[1].splitlines()[0][:90]!r}")
    else:
        report(told[1].startswith("!["), f"{label}: a blocking call handed the model the tag: {told[1][:90]!r}")
    saved = re.match(r"!\[[^\]]*\]\((.+?)\)", tag_at[1])
    report(bool(saved) and Path(saved.group(1)).is_file(), f"{label}: the tagged image is on disk")
    report(relay.generations(tag) == 1, f"{label}: one generation reached the relay ({relay.generations(tag)})")
    if job is not None and told[0] is not None:
        sessions.append((label, round(job["started"] - typed, 1), round(told[0] - job["started"], 1),
                         round(job.get("finished", 0) - job["started"], 1),
                         round((tag_at[0] or 0) - job["started"], 1)))


def _said_waiting(screen: str) -> bool:
    return "being made in the background" in screen


def _last_user_text(requests: list[dict], at: float) -> str:
    body = next(r["body"] for r in requests if r["time"] == at)
    return json.dumps(body["messages"][-1], ensure_ascii=False)


def _job(text: str) -> dict | None:
    """The job record a task id or a saved path in ``text`` names."""
    from bridge.paths import user_state_dir
    for path in (user_state_dir() / "jobs").glob("job_*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["id"] in text or any(p in text for p in record.get("image_paths") or []):
            return record
    return None


def check_codex_first_turn(work: Path, project: Path, env: dict, relay: Relay, runs: int) -> None:
    standin = StandIn(work, "codex-first-turn", "image", {"prompt": "a dot", "size": "64x64"})
    env = {**env, "IMAGE_RELAY_BASE_URL": relay.url("codex-first-turn")}
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
    parser.add_argument("--claude", default="claude", help="the Claude Code executable (one pinned release)")
    parser.add_argument("--codex", action="store_true", help="also run the Codex scenarios")
    parser.add_argument("--runs", type=int, default=10, help="Codex sessions for the first-turn check")
    parser.add_argument("--only", choices=("claude-image", "claude-interactive"),
                        help="run one check: Claude Code, one 1024x1024 image, or its interactive session")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    claude = Claude(args.claude)
    relay = Relay()
    table: list = []
    timeline: list = []
    sessions: list = []
    timings: list = []

    def timed(name: str, check, *rest) -> None:
        t0 = time.monotonic()
        check(*rest)
        timings.append((name, round(time.monotonic() - t0, 1)))

    try:
        if args.only == "claude-image":
            check_image("claude", claude, args.work, args.project, env, relay, "1024x1024", table)
            print(f"agent-loop: {failures} failed")
            return 1 if failures else 0
        if args.only == "claude-interactive":
            check_interactive(claude, args.work, args.project, env, relay, sessions)
            if claude.tasks:
                check_interactive(claude, args.work, args.project, env, relay, sessions, True)
            print(f"agent-loop: {failures} failed ({sessions})")
            return 1 if failures else 0
        for size in ("1024x1024", "3840x2160"):
            timed(f"{claude.name} -p {size}", check_image, "claude", claude, args.work, args.project, env, relay,
                  size, table)
        timed(f"{claude.name} -p timeout", check_timeout_recovery, "claude", claude, args.work, args.project, env,
              relay, timeline)
        timed(f"{claude.name} interactive", check_interactive, claude, args.work, args.project, env, relay, sessions)
        if claude.tasks:
            timed(f"{claude.name} interactive, tasks off", check_interactive, claude, args.work, args.project, env,
                  relay, sessions, True)
        if args.codex:
            for size in ("1024x1024", "3840x2160"):
                timed(f"codex {size}", check_image, "codex", None, args.work, args.project, env, relay, size, table)
            timed("codex timeout", check_timeout_recovery, "codex", None, args.work, args.project, env, relay,
                  timeline)
            timed("codex first turns", check_codex_first_turn, args.work, args.project, env, relay, args.runs)
    finally:
        relay.close()
    print("\nWhat the model received from generate_image:")
    for label, blocks, saved in table:
        print(f"  {label:<24}  {blocks}   (file: {saved} bytes)")
    print("\nA call past the client's limit (model requests at s; what each tool result began with):")
    for label, arrivals, firsts, total in timeline:
        print(f"  {label}: requests at {arrivals} s, whole loop {total} s")
        for text in firsts:
            print(f"    {text}")
    print("\nInteractive sessions (s after the job started; the job started that long after the prompt was typed):")
    for label, start, told, finished, tagged in sessions:
        print(f"  {label}: job started {start} s after typing; model told at {told} s; image made at {finished} s; "
              f"tag reached the model at {tagged} s")
    print("\nTimings: " + ", ".join(f"{name} {seconds} s" for name, seconds in timings))
    print(f"\nagent-loop: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Drive Gemini CLI, Qwen Code, opencode and Copilot CLI against a stand-in model and check what
the model receives from generate_image, with the bridge installed through each client's own
packaging from this checkout, and again through ``image-relay-setup --register``.

Run by checks/check-clients inside a network namespace with loopback only; it starts the relay
emulator itself. Each scenario gets a throwaway HOME whose user config file points at the
emulator. From the recorded model requests: generate_image is offered on the first request (Qwen
Code: reachable through its tool_search), the first text the model reads of the result starts
with the tag (inside any wrapper the client adds), a preview reaches the model where the client
forwards images, and the image is on disk. Also: Gemini CLI gets the key from the user config
file and from an exported variable through the shipped extension, a missing key gets advice that
fits, Qwen Code's install keeps the skill, and nothing is written into an installed extension or
into the Claude plugin Copilot CLI installed, by a generation with bytecode writing on.

Prints one 'ok'/'FAIL' line per check and a table of what each client did; exit 0 when all passed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # the checkout is what the clients install: keep it as it is
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from agent_loop_check import StandIn  # noqa: E402
from standin_gemini import unwrap  # noqa: E402

SERVER = "image-relay-bridge"
PROMPT = "Make an image of a red fox in the snow."
ARGUMENTS = {"prompt": "a red fox in the snow", "size": "1024x1024"}
SAVED = re.compile(r"^Saved (.+?) \((\d+x\d+), (\w+), (\d+) bytes\)", re.M)
failures = 0


def report(ok: bool, text: str) -> bool:
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {text}", flush=True)
    failures += 0 if ok else 1
    return ok


@dataclass
class Seen:
    """What the model received in one agent loop."""
    offered: bool = False
    result_text: str = ""  # the server's text, any wrapper taken off
    raw_first: str = ""  # the first line the model reads, wrapper included
    preview: str = "none"
    schema: str = "?"
    requests: int = 0
    extra: dict = field(default_factory=dict)


# -- the world the clients run in --------------------------------------------------------------

class World:
    def __init__(self, work: Path, repo: Path) -> None:
        self.work, self.repo = work, repo
        port = free_port()
        self.emulator = subprocess.Popen(["image-relay-emulator", "--port", str(port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.relay = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 20
        while not port_open(port):
            if time.monotonic() > deadline:
                raise SystemExit("the relay emulator did not start")
            time.sleep(0.1)
        self.server_schema = server_schema()

    def home(self, name: str, key_in_file: bool = True) -> Path:
        home = self.work / name / "home"
        shutil.rmtree(home.parent, ignore_errors=True)
        (home / ".config" / "image-relay-bridge").mkdir(parents=True)
        (home.parent / "project").mkdir()
        lines = [f"IMAGE_RELAY_BASE_URL={self.relay}", "IMAGE_RELAY_TEXT_MODEL=gpt-5",
                 "IMAGE_RELAY_IMAGE_MODEL=gpt-image-1.5"] + (["IMAGE_RELAY_API_KEY=check-clients-file"] if key_in_file else [])
        (home / ".config" / "image-relay-bridge" / ".env").write_text("\n".join(lines) + "\n")
        return home

    def env(self, home: Path, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("IMAGE_RELAY_", "XDG_")) and k != "PYTHONDONTWRITEBYTECODE"}  # as users have it
        env.update(HOME=str(home), PWD=str(home.parent / "project"), NO_COLOR="1", **extra)
        return env

    def stop(self) -> None:
        self.emulator.terminate()
        self.emulator.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def server_schema() -> dict:
    """generate_image's input schema as the server lists it, to compare with what each client sends."""
    code = ("import asyncio, json\nfrom mcp import Client\nfrom bridge.server.app import server\n"
            "async def main():\n    async with Client(server) as c:\n"
            "        print(json.dumps((await c.list_tools()).tools[0].input_schema))\nasyncio.run(main())\n")
    python = Path(shutil.which("image-relay-mcp")).read_text().splitlines()[0][2:].strip()
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def run(command: list[str], env: dict, cwd: Path, timeout: float = 300, stdin: str = "") -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(command, -9, exc.stdout or "", f"timed out after {timeout} s")


def tail(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]!r}"


def registered(done: subprocess.CompletedProcess) -> str:
    line = next((l for l in done.stdout.splitlines() if l.startswith("Registered")), "")
    return line[:200] if line else tail(done)


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def has_bounds(schema: object) -> bool:
    if isinstance(schema, dict):
        return "minimum" in schema or "maximum" in schema or any(has_bounds(v) for v in schema.values())
    return isinstance(schema, list) and any(has_bounds(v) for v in schema)


def compare_schema(offered: dict | None, server: dict) -> str:
    if not offered:
        return "?"
    props, theirs = server.get("properties", {}), offered.get("properties", {})
    added = sorted(set(theirs) - set(props))
    changed = sorted(k for k in props if k in theirs and theirs[k] != props[k])
    if not changed:
        return "verbatim" + (f" (+ {', '.join(added)})" if added else "")
    bounds = [k for k in changed if has_bounds(props[k]) and not has_bounds(theirs[k])]
    if bounds:
        return f"integer bounds moved into descriptions ({', '.join(bounds)})" + (
            f"; {len(changed) - len(bounds)} more fields rewritten" if len(changed) > len(bounds) else "")
    return f"{len(changed)} fields rewritten"


# -- reading the recorded requests, per wire API -----------------------------------------------

def chat_seen(requests: list[dict], server: dict) -> Seen:
    seen = Seen(requests=len(requests))
    with_tools = [r["body"] for r in requests if r["body"].get("tools")]
    if not with_tools:
        return seen
    first = with_tools[0]
    tools = {(t.get("function") or t).get("name"): (t.get("function") or t) for t in first["tools"]}
    ours = next((n for n in tools if n and n.endswith("generate_image")), None)
    if ours:
        seen.offered, seen.extra["name"] = True, ours
        seen.schema = compare_schema(tools[ours].get("parameters"), server)
    elif "tool_search" in tools and "generate_image" in json.dumps(first["messages"]):
        seen.offered, seen.extra["name"] = True, "deferred behind tool_search"
        for message in with_tools[-1]["messages"]:  # the declaration tool_search returned
            found = re.search(r"<function>(\{.*\})</function>", chat_text(message.get("content")), re.S)
            if message.get("role") == "tool" and found:
                try:
                    seen.schema = compare_schema(json.loads(found.group(1)).get("parametersJsonSchema"), server)
                except ValueError:
                    seen.schema = "unreadable declaration"
                break
    messages = with_tools[-1]["messages"]
    for i, message in enumerate(messages):
        text = chat_text(message.get("content"))
        if message.get("role") == "tool" and (text.startswith("![") or "Image generation failed" in text):
            seen.raw_first = text.splitlines()[0] if text else ""
            seen.result_text = text
            images = chat_images(message.get("content"))
            follow = messages[i + 1] if i + 1 < len(messages) else {}
            if not images and follow.get("role") == "user":
                images = chat_images(follow.get("content"))
                if images:
                    seen.extra["preview_in"] = f"a user message after the result ({chat_text(follow.get('content'))[:40]!r})"
            if images:
                seen.preview = images[0]
    return seen


def chat_text(content) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def chat_images(content) -> list[str]:
    out = []
    for part in content if isinstance(content, list) else []:
        url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
        if url.startswith("data:"):
            out.append(f"{url[5:url.find(';')]}, {len(url.partition(',')[2]) * 3 // 4} B")
    return out


def gemini_seen(requests: list[dict], server: dict) -> Seen:
    seen = Seen(requests=len(requests))
    turns = [r["body"] for r in requests if r["body"].get("tools")]
    if not turns:
        return seen
    declarations = {d.get("name"): d for t in turns[0]["tools"] for d in t.get("functionDeclarations") or []}
    ours = next((n for n in declarations if n and n.endswith("generate_image")), None)
    if ours:
        seen.offered, seen.extra["name"] = True, ours
        seen.schema = compare_schema(declarations[ours].get("parametersJsonSchema"), server)
    for content in turns[-1].get("contents", []):
        parts = content.get("parts") or []
        for part in parts:
            response = (part.get("functionResponse") or {})
            if response.get("name") == ours:
                value = response.get("response") or {}
                text = value.get("output") if isinstance(value.get("output"), str) else gemini_error(value)
                seen.raw_first = text.splitlines()[0] if text else ""
                seen.result_text = unwrap(text)
                inline = [p["inlineData"] for p in parts if "inlineData" in p]
                if inline:
                    seen.preview = f"{inline[0]['mimeType']}, {len(inline[0]['data']) * 3 // 4} B"
    return seen


def gemini_error(value: dict) -> str:
    """An isError result reaches Gemini's model as an error string with the server's reply as JSON inside."""
    error = str(value.get("error", ""))
    try:
        reply = json.loads(error.split(" with response: ", 1)[1])
        return "\n".join(c.get("text", "") for c in reply[0]["functionResponse"]["response"]["content"])
    except (IndexError, KeyError, TypeError, ValueError):
        return error


# -- the checks -----------------------------------------------------------------------------

def check_loop(label: str, seen: Seen, done: subprocess.CompletedProcess, forwards_images: bool) -> bool:
    ok = report(seen.offered, f"{label}: generate_image offered on the first model request ({seen.extra.get('name')})")
    if not seen.result_text:
        return report(False, f"{label}: the model never received a result of generate_image ({tail(done)})") and False
    first = seen.result_text.lstrip().splitlines()[0]
    ok &= report(first.startswith("!["), f"{label}: the result text starts with the tag: {first[:70]!r}"
                                         + (f" (the model reads {seen.raw_first[:30]!r} first)" if seen.raw_first != first else ""))
    if forwards_images:
        ok &= report(seen.preview != "none", f"{label}: a preview reached the model ({seen.preview}"
                                             + (f", in {seen.extra['preview_in']})" if "preview_in" in seen.extra else ")"))
    saved = SAVED.search(seen.result_text)
    ok &= report(bool(saved) and Path(saved.group(1)).is_file() and Path(saved.group(1)).stat().st_size == int(saved.group(4)),
                 f"{label}: the image is on disk ({saved.group(1) if saved else 'no Saved line'})")
    return ok


SKILL_TEXT = "Generates and edits images through the user"  # the skill's description (some clients escape the ')


def loop(world: World, home: Path, command: list[str], env: dict, wire: str,
         configs: tuple[Path, ...] = ()) -> tuple[Seen, subprocess.CompletedProcess]:
    """One agent loop against a fresh stand-in; ``{port}`` in env values and ``configs`` is its port."""
    standin = StandIn(home.parent, "standin", "image", ARGUMENTS)
    try:
        env = {k: v.replace("{port}", str(standin.port)) for k, v in env.items()}
        for config in configs:
            config.write_text(config.read_text().replace("{port}", str(standin.port)))
        started = time.monotonic()
        done = run(command, env, home.parent / "project")
        elapsed = time.monotonic() - started
    finally:
        standin.stop()
    requests = standin.requests()
    seen = (gemini_seen if wire == "gemini" else chat_seen)(requests, world.server_schema)
    seen.extra["seconds"] = round(elapsed, 1)
    turns = [r["body"] for r in requests if r["body"].get("tools")]
    seen.extra["skill"] = bool(turns) and SKILL_TEXT in json.dumps(turns[0])
    seen.extra["context"] = bool(turns) and "extension-context.md" in json.dumps(turns[0])
    return seen, done


# Gemini CLI -----------------------------------------------------------------------------------

def gemini(world: World, table: dict) -> None:
    command = ["gemini", "-p", PROMPT, "--approval-mode=yolo", "--skip-trust", "--output-format", "json"]

    def prepared(name: str, key_in_file: bool = True) -> tuple[Path, dict]:
        home = world.home(name, key_in_file)
        (home / ".gemini").mkdir()
        (home / ".gemini" / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
        env = world.env(home, GOOGLE_GEMINI_BASE_URL="http://127.0.0.1:{port}", GEMINI_API_KEY="fake-gemini-key")
        return home, env

    home, env = prepared("gemini")
    done = run(["gemini", "extensions", "install", str(world.repo), "--consent"], env, home.parent / "project", stdin="y\n")
    installed = home / ".gemini" / "extensions" / SERVER
    report(done.returncode == 0 and (installed / "gemini-extension.json").is_file(),
           f"gemini: extensions install <checkout> ({tail(done) if done.returncode else 'installed'})")
    before = files(installed)
    seen, done = loop(world, home, command, env, "gemini")
    check_loop("gemini (extension, key in the user config file)", seen, done, forwards_images=True)
    report(seen.extra.get("skill"), "gemini: the skill is offered to the model")
    report(seen.extra.get("context"), "gemini: the extension's context file reaches the model")
    table["Gemini CLI"] = seen

    home2, env2 = prepared("gemini-exported", key_in_file=False)
    run(["gemini", "extensions", "install", str(world.repo), "--consent"], env2, home2.parent / "project", stdin="y\n")
    env2["IMAGE_RELAY_API_KEY"] = "check-clients-exported"
    seen2, done = loop(world, home2, command, env2, "gemini")
    check_loop("gemini (extension, key only exported)", seen2, done, forwards_images=True)

    home3, env3 = prepared("gemini-no-key", key_in_file=False)
    run(["gemini", "extensions", "install", str(world.repo), "--consent"], env3, home3.parent / "project", stdin="y\n")
    seen3, done = loop(world, home3, command, env3, "gemini")
    text = seen3.result_text
    report(text.startswith("Image generation failed (config_missing): The relay's API key is not set: run image-relay-setup")
           and "/plugin configure" not in text and str(home3 / ".config" / "image-relay-bridge" / ".env") in text,
           f"gemini (no key anywhere): config_missing names image-relay-setup and the user config file, not Claude "
           f"Code's settings: {text[:150]!r}")
    report(files(installed) == before, "gemini: nothing was written into the installed extension "
                                       f"({len(set(files(installed)) - set(before))} new files)")

    home4, env4 = prepared("gemini-register")
    done = run(["image-relay-setup", "--register", "gemini"], env4, home4.parent / "project")
    report(done.returncode == 0 and "Registered image-relay-bridge with Gemini CLI" in done.stdout,
           f"gemini: image-relay-setup --register gemini ({registered(done)})")
    seen4, done = loop(world, home4, command, env4, "gemini")
    check_loop("gemini (registered)", seen4, done, forwards_images=True)


# Qwen Code ------------------------------------------------------------------------------------

def qwen_home(world: World, name: str) -> tuple[Path, dict]:
    home = world.home(name)
    (home / ".qwen").mkdir()
    # A model that declares image input, as a vision model does: Qwen Code strips images otherwise.
    provider = {"id": "standin", "name": "standin", "baseUrl": "http://127.0.0.1:{port}/v1",
                "envKey": "STANDIN_API_KEY", "generationConfig": {"modalities": {"image": True}}}
    (home / ".qwen" / "settings.json").write_text(json.dumps({
        "modelProviders": {"openai": [provider]}, "security": {"auth": {"selectedType": "openai"}},
        "model": {"name": "standin"}}))
    return home, world.env(home, STANDIN_API_KEY="fake-qwen-key", QWEN_CODE_SUPPRESS_YOLO_WARNING="1")


def qwen(world: World, table: dict) -> None:
    command = ["qwen", "-p", PROMPT, "--yolo", "--output-format", "json"]
    home, env = qwen_home(world, "qwen")
    # The Claude marketplace form: Qwen Code finds the root qwen-extension.json instead of converting the plugin.
    done = run(["qwen", "extensions", "install", f"{world.repo}:{SERVER}", "--consent"], env, home.parent / "project")
    installed = home / ".qwen" / "extensions" / SERVER
    report(done.returncode == 0 and (installed / "qwen-extension.json").is_file(),
           f"qwen: extensions install <checkout>:{SERVER} ({tail(done) if done.returncode else 'installed'})")
    manifest = json.loads((installed / "qwen-extension.json").read_text()) if installed.is_dir() else {}
    report(list(manifest.get("mcpServers", {})) == [SERVER] and (installed / "skills" / SERVER / "SKILL.md").is_file(),
           f"qwen: the install kept one server named {SERVER} and the skill "
           f"(servers {list(manifest.get('mcpServers', {}))}, skill {'kept' if (installed / 'skills').is_dir() else 'gone'})")
    before = files(installed)
    seen, done = loop(world, home, command, env, "chat", (home / ".qwen" / "settings.json",))
    check_loop("qwen (extension)", seen, done, forwards_images=True)
    report(seen.extra.get("skill"), "qwen: the skill is offered to the model")
    report(seen.extra.get("context"), "qwen: the extension's context file reaches the model")
    report(files(installed) == before, "qwen: nothing was written into the installed extension")
    table["Qwen Code"] = seen

    home2, env2 = qwen_home(world, "qwen-register")
    done = run(["image-relay-setup", "--register", "qwen"], env2, home2.parent / "project")
    report(done.returncode == 0 and "Registered image-relay-bridge with Qwen Code" in done.stdout,
           f"qwen: image-relay-setup --register qwen ({registered(done)})")
    seen2, done = loop(world, home2, command, env2, "chat", (home2 / ".qwen" / "settings.json",))
    check_loop("qwen (registered)", seen2, done, forwards_images=True)


# opencode -------------------------------------------------------------------------------------

def opencode_home(world: World, name: str, recipe: dict | None) -> tuple[Path, dict]:
    home = world.home(name)
    folder = home / ".config" / "opencode"
    folder.mkdir(parents=True)
    config = {"$schema": "https://opencode.ai/config.json",
              "provider": {"standin": {"npm": "@ai-sdk/openai-compatible", "name": "standin",
                                       "options": {"baseURL": "http://127.0.0.1:{port}/v1", "apiKey": "fake-opencode-key"},
                                       "models": {"standin": {"name": "standin",
                                                              "modalities": {"input": ["text", "image"], "output": ["text"]}}}}},
              "model": "standin/standin", "permission": {"*": "allow"}}
    config.update(recipe or {})
    (folder / "opencode.json").write_text(json.dumps(config, indent=2))
    return home, world.env(home, OPENCODE_DISABLE_MODELS_FETCH="true", OPENCODE_DISABLE_AUTOUPDATE="true",
                           XDG_CONFIG_HOME=str(home / ".config"))


def opencode(world: World, table: dict) -> None:
    command = ["opencode", "run", "--format", "json", PROMPT]
    # The recipe for a checkout in docs/agents.md (opencode): the launcher as the server, the skill folder on skills.paths.
    recipe = {"mcp": {SERVER: {"type": "local", "command": ["python3", str(world.repo / "scripts" / "launch_mcp.py"),
                                                            "--wait-default", "540"], "enabled": True, "timeout": 600000}},
              "skills": {"paths": [str(world.repo / "skills")]}}
    home, env = opencode_home(world, "opencode", recipe)
    seen, done = loop(world, home, command, env, "chat", (home / ".config" / "opencode" / "opencode.json",))
    check_loop("opencode (recipe)", seen, done, forwards_images=True)
    report(seen.extra.get("skill"), "opencode: the skill is offered to the model")
    table["opencode"] = seen

    home2, env2 = opencode_home(world, "opencode-register", None)
    done = run(["image-relay-setup", "--register", "opencode"], env2, home2.parent / "project")
    report(done.returncode == 0 and "Registered image-relay-bridge with opencode" in done.stdout,
           f"opencode: image-relay-setup --register opencode ({registered(done)})")
    seen2, done = loop(world, home2, command, env2, "chat", (home2 / ".config" / "opencode" / "opencode.json",))
    check_loop("opencode (registered)", seen2, done, forwards_images=True)


# Copilot CLI ----------------------------------------------------------------------------------

def copilot_env(world: World, home: Path) -> dict:
    return world.env(home, COPILOT_OFFLINE="true", COPILOT_PROVIDER_BASE_URL="http://127.0.0.1:{port}/v1",
                     COPILOT_PROVIDER_TYPE="openai", COPILOT_PROVIDER_API_KEY="fake-copilot-key", COPILOT_MODEL="standin")


def copilot(world: World, table: dict) -> None:
    command = ["copilot", "-p", PROMPT, "--allow-all-tools", "--output-format", "json", "--no-ask-user"]
    home = world.home("copilot")
    env = copilot_env(world, home)
    project = home.parent / "project"
    # A marketplace folder of its own, as an install from GitHub gives one: Copilot CLI runs a directory
    # marketplace's plugin in place, and this checkout is also where the server's package comes from.
    marketplace = home.parent / "marketplace"
    shutil.copytree(world.repo, marketplace, ignore=lambda folder, names: [
        n for n in names if n in {".git", "__pycache__", ".pytest_cache", ".hypothesis"} or n.endswith(".egg-info")])
    added = run(["copilot", "plugin", "marketplace", "add", str(marketplace)], env, project)
    done = run(["copilot", "plugin", "install", f"{SERVER}@{SERVER}"], env, project) if added.returncode == 0 else added
    report(done.returncode == 0, f"copilot: plugin marketplace add <checkout> + plugin install "
                                 f"({done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else tail(done)})")
    installed = sorted({p.parent.parent for folder in (home, marketplace) for p in folder.rglob("launch_mcp.py")
                        if p.parent.name == "scripts"})
    before = [files(folder) for folder in installed]
    seen, done = loop(world, home, command, env, "chat")
    # Copilot CLI does not forward tool images to bring-your-own-key models: nothing to require there.
    check_loop("copilot (the Claude plugin)", seen, done, forwards_images=False)
    new = sorted(set().union(*(set(files(f)) - set(b) for f, b in zip(installed, before)))) if installed else []
    report(bool(installed) and bool(seen.result_text) and not new,
           f"copilot: nothing was written into the installed plugin folder by a generation "
           f"({len(installed)} folder(s), {len(new)} new files{': ' + ', '.join(new[:5]) if new else ''})")
    report(seen.extra.get("skill"), "copilot: the skill is offered to the model")
    table["Copilot CLI"] = seen

    home2 = world.home("copilot-register")
    env2 = copilot_env(world, home2)
    done = run(["image-relay-setup", "--register", "copilot"], env2, home2.parent / "project")
    report(done.returncode == 0 and "Registered image-relay-bridge with Copilot CLI" in done.stdout,
           f"copilot: image-relay-setup --register copilot ({registered(done)})")
    seen2, done = loop(world, home2, command, env2, "chat")
    check_loop("copilot (registered)", seen2, done, forwards_images=False)


CLIENTS = {"gemini": gemini, "qwen": qwen, "opencode": opencode, "copilot": copilot}
VERSIONS = {"gemini": "@google/gemini-cli", "qwen": "@qwen-code/qwen-code", "opencode": "opencode-ai",
            "copilot": "@github/copilot"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder")
    parser.add_argument("--bin", type=Path, required=True, help="the clients' bin folder (checks/clients-install)")
    parser.add_argument("--only", choices=sorted(CLIENTS), action="append", help="run only these clients")
    args = parser.parse_args()
    repo = HERE.parent
    os.environ["PATH"] = f"{args.bin}{os.pathsep}{os.environ['PATH']}"
    with socket.socket() as probe:  # the namespace must have loopback only
        probe.settimeout(3)
        outside = probe.connect_ex(("1.1.1.1", 443))
    if not report(outside != 0, f"no route out of this network namespace (connecting out: errno {outside})"):
        return 1
    world = World(args.work, repo)
    table: dict[str, Seen] = {}
    try:
        for name in args.only or CLIENTS:
            started = time.monotonic()
            CLIENTS[name](world, table)
            print(f"     ({name}: {time.monotonic() - started:.0f} s)", flush=True)
    finally:
        world.stop()
    print("\nWhat each client's model received from generate_image (packaged install):")
    versions = {}
    for name, package in VERSIONS.items():
        meta = args.bin.parent / package / "package.json"
        versions[name] = json.loads(meta.read_text())["version"] if meta.is_file() else "?"
    for (client, seen), name in zip(table.items(), [n for n in (args.only or CLIENTS)]):
        print(f"  {client} {versions.get(name)}: tool {seen.extra.get('name')}; schema {seen.schema}; "
              f"first text {seen.raw_first[:40]!r}; preview {seen.preview}"
              + (f" ({seen.extra['preview_in']})" if "preview_in" in seen.extra else "")
              + f"; {seen.requests} model requests, {seen.extra.get('seconds')} s")
    print(f"\nclient-loop: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

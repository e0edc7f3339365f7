"""Register the MCP server with an agent: its own ``mcp add`` command where it has one that takes a
whole entry, else its config file (``opencode``). Every entry gets a tool limit of 600 s and the
server's wait below it, and keeps whatever else the user's configuration holds.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from ..i18n import translate
from . import opencode

SERVER = "image-relay-bridge"
COMMAND = "image-relay-mcp"
WAIT = ["--wait-default", "540"]  # seconds the server waits before handing back a job id
TIMEOUT_MS = "600000"  # the client's tool limit, above the wait
# Gemini CLI passes no inherited variable whose name holds KEY; the clients expand $NAME themselves.
KEY_ENV = "IMAGE_RELAY_API_KEY=$IMAGE_RELAY_API_KEY"


@dataclass(frozen=True)
class Client:
    name: str  # what --register takes
    title: str
    program: str
    add: list[str]  # the client's own command that writes the entry
    config: str  # the file that command changes, for the user
    remove: list[str] | None = None  # run first when ``add`` refuses an existing entry


CLIENTS = {c.name: c for c in (
    Client("claude", "Claude Code", "claude",
           ["claude", "mcp", "add-json", "-s", "user", SERVER,
            '{"type":"stdio","command":"image-relay-mcp","timeout":600000}'], "~/.claude.json"),
    Client("codex", "Codex", "codex", ["codex", "mcp", "add", SERVER, "--", COMMAND], "~/.codex/config.toml"),
    Client("gemini", "Gemini CLI", "gemini",
           ["gemini", "mcp", "add", "--scope", "user", "--timeout", TIMEOUT_MS, "-e", KEY_ENV, SERVER, COMMAND, *WAIT],
           "~/.gemini/settings.json"),
    Client("qwen", "Qwen Code", "qwen",
           ["qwen", "mcp", "add", "--scope", "user", "--timeout", TIMEOUT_MS, "-e", KEY_ENV, SERVER, COMMAND, *WAIT],
           "~/.qwen/settings.json"),
    Client("copilot", "Copilot CLI", "copilot",
           ["copilot", "mcp", "add", SERVER, "--timeout", TIMEOUT_MS, "--", COMMAND, *WAIT],
           "~/.copilot/mcp-config.json", remove=["copilot", "mcp", "remove", SERVER]),
    Client("opencode", "opencode", "opencode", [], "~/.config/opencode/opencode.json"),
)}

Run = Callable[..., subprocess.CompletedProcess]


def register(name: str, out: TextIO, err: TextIO, *, run: Run = subprocess.run,
             which: Callable[[str], str | None] = shutil.which) -> bool:
    """Add the server to one client and say what changed; one sentence on stderr when it cannot."""
    client = CLIENTS[name]
    program = which(client.program)
    if program is None:
        print(translate(f"{client.title} is not installed ({client.program} is not on the PATH); install it, then "
                        f"run image-relay-setup --register {name} again."), file=err)
        return False
    if name == "opencode":
        return _report(client, opencode.register(SERVER, [COMMAND, *WAIT], int(TIMEOUT_MS)), out, err)
    # The path found, not the bare name: on Windows npm installs clients as .cmd files, which
    # which() finds through PATHEXT and CreateProcess does not.
    add = [program, *client.add[1:]]
    done = run(add, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if done.returncode != 0 and client.remove is not None and "exist" in (done.stdout + done.stderr):
        run([program, *client.remove[1:]], capture_output=True, text=True, encoding="utf-8", errors="replace")
        done = run(add, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if done.returncode != 0:
        print(translate(f"{client.program} did not register the server (exit {done.returncode}): "
                        f"{_last_line(done.stderr or done.stdout)} Run it yourself: {command_line(client.add)}"),
              file=err)
        return False
    print(translate(f"Registered {SERVER} with {client.title} in {client.config}: {command_line(client.add)}"),
          file=out)
    return True


def _report(client: Client, outcome: opencode.Outcome, out: TextIO, err: TextIO) -> bool:
    if outcome.error:
        print(f"{client.title}: {translate(outcome.error)}", file=err)
        return False
    print(translate(f"Registered {SERVER} with {client.title} in {outcome.path}: {outcome.change}"), file=out)
    return True


def hint(name: str) -> str:
    """How to register by hand, for the closing lines of the setup."""
    client = CLIENTS[name]
    return command_line(client.add) if client.add else f"image-relay-setup --register {name}"


def command_line(parts: list[str]) -> str:
    return " ".join(f"'{p}'" if any(c in p for c in ' {}"$') else p for p in parts)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else "no message"
    return line if line.endswith(".") else line + "."

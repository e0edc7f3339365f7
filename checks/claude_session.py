"""An interactive Claude Code session in tmux, typed into as a user would, for the agent-loop check.

Claude Code behaves differently in its terminal interface than under ``-p``: 2.1.332 declares the
MCP tasks extension there only, and moves calls still running after two minutes to the background.
So the check drives the real interface: a tmux server of its own (a private socket, never the
user's), a throwaway HOME whose ~/.claude.json has onboarding done, the project trusted and the fake
key approved, a prompt typed in, and the screen read back.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path


def prepare(home: Path, project: Path, key: str) -> None:
    """What a user answered once already: onboarding, this project's trust, this API key."""
    path = home / ".claude.json"
    state = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    state.update(hasCompletedOnboarding=True, theme="dark", numStartups=3,
                 customApiKeyResponses={"approved": [key[-20:]], "rejected": []})
    projects = state.setdefault("projects", {})
    projects.setdefault(str(project), {}).update(hasTrustDialogAccepted=True, hasCompletedProjectOnboarding=True)
    path.write_text(json.dumps(state), encoding="utf-8")


READY = "❯"  # the input box's prompt character: the interface takes keys


class Session:
    """One Claude Code terminal session in a tmux server of its own."""

    def __init__(self, work: Path, name: str) -> None:
        self.socket = work / f"{name}.tmux"
        self.name = name
        self.tmux = shutil.which("tmux") or "tmux"

    def _tmux(self, *args: str, env: dict | None = None) -> str:
        done = subprocess.run([self.tmux, "-S", str(self.socket), *args], capture_output=True, text=True,
                              env=env, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, command: list[str], cwd: Path, env: dict) -> None:
        # The tmux server starts with this environment, and so does the command it runs.
        shell = " ".join(_quote(part) for part in command)
        self._tmux("new-session", "-d", "-s", self.name, "-x", "160", "-y", "50", "-c", str(cwd), shell, env=env)

    def screen(self) -> str:
        try:
            return self._tmux("capture-pane", "-p", "-J", "-t", self.name)
        except (RuntimeError, subprocess.TimeoutExpired):
            return ""

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen():
                return True
            time.sleep(0.5)
        return False

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)
        time.sleep(0.3)  # the input box takes the text before the key that submits it
        self._tmux("send-keys", "-t", self.name, "Enter")

    def close(self) -> None:
        try:
            self._tmux("kill-server")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        self.socket.unlink(missing_ok=True)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"

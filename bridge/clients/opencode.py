"""opencode has no command that takes a whole MCP entry: the entry goes into its global
``opencode.json`` (``$XDG_CONFIG_HOME/opencode``), every other key kept as it was. A file with
comments (``opencode.jsonc``) is not rewritten: the user gets the entry to paste.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    path: Path
    change: str = ""
    error: str = ""


def config_dir(environ=os.environ) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "opencode"


def entry(command: list[str], timeout_ms: int) -> dict:
    return {"type": "local", "command": command, "enabled": True, "timeout": timeout_ms}


def register(server: str, command: list[str], timeout_ms: int, environ=os.environ) -> Outcome:
    folder = config_dir(environ)
    path = folder / "opencode.json"
    wanted = entry(command, timeout_ms)
    snippet = json.dumps({"mcp": {server: wanted}})
    if not path.exists() and (folder / "opencode.jsonc").exists():
        return Outcome(path, error=f"{folder / 'opencode.jsonc'} may hold comments, so it was left alone; "
                                   f"add this to it: {snippet}")
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return Outcome(path, error=f"{path} could not be read as JSON ({exc.__class__.__name__}), so it was left "
                                   f"alone; add this to it: {snippet}")
    if not isinstance(config, dict) or not isinstance(config.get("mcp", {}), dict):
        return Outcome(path, error=f"{path} is not the shape opencode documents, so it was left alone; "
                                   f"add this to it: {snippet}")
    before = config.get("mcp", {}).get(server)
    if before == wanted:
        return Outcome(path, change=f"mcp.{server} was already {json.dumps(wanted)}")
    if not path.exists():
        config["$schema"] = "https://opencode.ai/config.json"
    config.setdefault("mcp", {})[server] = wanted
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".opencode.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return Outcome(path, change=f"mcp.{server} {'replaced' if before else 'added'}: {json.dumps(wanted)}")

"""Which agent started this server, for advice that only makes sense there: MCP clients name
themselves in ``initialize`` (Claude Code says ``claude-code``), and Claude Code exports
CLAUDE_PLUGIN_ROOT to the servers of the plugins it runs.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

CLAUDE_CODE = "claude-code"


def client_name(session: object) -> str | None:
    """The name the client gave in ``initialize``, if any."""
    params = getattr(session, "client_params", None)
    info = getattr(params, "client_info", None)
    name = getattr(info, "name", None)
    return name if isinstance(name, str) else None


def claude_plugin(name: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Claude Code running this as its plugin: the only place `/plugin configure` sets the relay."""
    return name == CLAUDE_CODE and bool(environ.get("CLAUDE_PLUGIN_ROOT"))

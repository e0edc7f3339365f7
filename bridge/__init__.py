"""image-relay-bridge: generate and edit images through OpenAI-compatible image relays.

The public names load on first use, so ``import bridge`` (and the MCP server's start-up, which
must answer ``initialize`` fast) never pays for requests, dotenv or the core until a call needs them.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "config", "load_settings": "config", "generate_image": "core", "BridgeError": "errors",
    "ExitCode": "errors", "GenerationRequest": "job", "Progress": "progress", "GenerationResult": "result",
    "markdown_image": "result", "CancelToken": "transport",
}
__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

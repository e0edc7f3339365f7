"""A local OpenAI-compatible image relay: real PNGs, real SSE, and the relay faults of the wild.

``start_emulator()`` runs one on a loopback port for tests and demos; ``image-relay-emulator``
runs one from the command line.
"""
from __future__ import annotations

from .render import render_png
from .server import Emulator, start_emulator

__all__ = ["Emulator", "render_png", "start_emulator"]

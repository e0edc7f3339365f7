"""Replacing a file that another process may hold open.

On Windows ``os.replace`` onto a file that a viewer, an agent or a virus scanner has open fails
with "Access is denied" (WinError 5) or a sharing violation (WinError 32) until it lets go;
POSIX replaces it at once. The retry is short and bounded: a file held for longer is an error.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

RETRY_SECONDS = 2.0
_HELD_OPEN = {5, 32, 33}  # ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION


def replace(source: str | Path, target: str | Path, *, retry_seconds: float = RETRY_SECONDS) -> None:
    """``os.replace`` that waits (up to ``retry_seconds``) for a target held open on Windows."""
    deadline = time.monotonic() + retry_seconds
    delay = 0.02
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError as exc:
            if not _held_open(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _held_open(exc: OSError) -> bool:
    return sys.platform == "win32" and getattr(exc, "winerror", None) in _HELD_OPEN

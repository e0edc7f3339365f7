"""Open a saved image in the operating system's viewer, only where a person can see it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys


def has_display(environ=os.environ) -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def open_image(path: str) -> bool:
    """Start the viewer detached; its output never reaches our stdout. False when none could start."""
    if not has_display():
        return False
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
            return True
        command = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
        if not command:
            return False
        subprocess.Popen([command, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        return True
    except OSError:
        return False

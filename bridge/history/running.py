"""Where a running library listens, so tool results and the CLI can link to it, and a second
``image-relay-library`` opens the first instead of starting another.

A small file in the user state folder (``library.json``: pid, port, the page's token; 0600) names
the library that runs. The links given to a model or printed by the CLI never carry the token: a
browser that opened the library holds its cookie; one that did not is told to run the command.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..i18n import N_
from ..paths import user_state_dir
from ..system.processes import is_alive

COMMAND = "image-relay-library"
STATE_FILE = "library.json"
NOT_SHOWN = "Not shown in this client (e.g. it shows [Image])?"


def state_file() -> Path:
    return user_state_dir() / STATE_FILE


def announce(port: int, token: str) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    # 0600 on POSIX; on Windows the mode is ignored and the user's profile folder keeps it private
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"pid": os.getpid(), "port": port, "token": token, "started": round(time.time(), 3)}, handle)
    os.replace(tmp, path)


def withdraw() -> None:
    """Remove the file if it still names this process."""
    found = _read()
    if found is not None and found.get("pid") == os.getpid():
        state_file().unlink(missing_ok=True)


def current() -> dict | None:
    """The running library (pid, port, token), else None."""
    found = _read()
    if found is None or not isinstance(found.get("port"), int) or not is_alive(found.get("pid")):
        return None
    return found


def page_url(port: int, entry: int | None = None) -> str:
    return f"http://127.0.0.1:{port}/" + (f"?entry={entry}" if entry else "")


def for_model(paths: tuple[str, ...] | list[str]) -> str:
    """The tool result's line for clients that cannot show the image (English: the model reads it)."""
    link = _link(paths)
    if link:
        return f"{NOT_SHOWN} Give the user its link in their image library: {link}"
    return f"{NOT_SHOWN} Tell the user to run {COMMAND} to see it in their browser."


def for_person(paths: tuple[str, ...] | list[str]) -> str:
    """The CLI's stderr line after an image (in English: the CLI translates what it prints)."""
    link = _link(paths)
    return N_(f"See it in your image library: {link}") if link else \
        N_(f"See it and every image you made in your browser: {COMMAND}")


def _link(paths) -> str | None:
    found = current()
    if found is None or not paths:
        return None
    entry = None
    try:
        from .db import connect
        from .query import entry_of_path
        conn = connect()
        try:
            entry = entry_of_path(conn, str(paths[0]))
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - a link to the library's first page is still a link
        entry = None
    return page_url(found["port"], entry)


def _read() -> dict | None:
    try:
        data = json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


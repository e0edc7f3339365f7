"""Keeping the history true to the disk and the process table: files the user deleted are marked
missing (their entries stay), and entries whose recording process died while they ran are lost."""
from __future__ import annotations

import os

from ..system.processes import is_alive
from . import entries, query


def settle_running(conn) -> None:
    """Entries still ``running`` whose recording process is gone were lost with it."""
    for row in query.running(conn):
        if row["pid"] is not None and not is_alive(row["pid"]):
            entries.set_status(conn, row["id"], "lost", "lost", "Its process stopped while it ran.")


def notice_missing(conn, file_ids: list[int]) -> dict[int, bool]:
    """Look at these recorded files on disk; record and return those whose presence changed."""
    if not file_ids:
        return {}
    marks = ", ".join("?" * len(file_ids))
    rows = conn.execute(f"SELECT id, path, missing FROM files WHERE id IN ({marks})", file_ids).fetchall()
    changes = {row["id"]: gone for row in rows if (gone := not os.path.isfile(row["path"])) != bool(row["missing"])}
    entries.mark_missing(conn, changes)
    return changes

"""Where the history lives and how it is opened: one SQLite file in the user state folder, in WAL
mode so the library reads while CLIs and job workers write, each writer waiting its turn."""
from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from ..paths import user_state_dir
from .schema import migrate

FILE_NAME = "history.sqlite3"
BUSY_MS = 10_000  # how long a writer waits for another one before giving up


def database_path(environ: Mapping[str, str] = os.environ) -> Path:
    return user_state_dir(environ) / FILE_NAME


def connect(path: Path | None = None) -> sqlite3.Connection:
    """An open, migrated connection in autocommit mode (transactions are explicit: ``writing``)."""
    path = path or database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    conn = sqlite3.connect(str(path), timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        _wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; WAL keeps it consistent
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    if new and sys.platform != "win32":
        try:
            os.chmod(path, 0o600)  # prompts are the user's own business
        except OSError:
            pass
    return conn


def _wal(conn: sqlite3.Connection) -> None:
    """Switching to WAL takes a moment's exclusive lock; processes opening a new database at once retry."""
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.05)


class writing:
    """``with writing(conn):`` one write transaction, taken at once (BEGIN IMMEDIATE), so a writer that
    must wait waits before it reads, not halfway through."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, value, traceback) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")

"""Writing the history: an entry when a generation starts, its partial images as they arrive, its
outcome at the end, and which of its files are gone from disk."""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable

from .db import writing
from .search import index_text

_BEGIN = ("uid", "face", "owner", "kind", "prompt", "model", "api_mode", "size", "format", "project", "output_dir",
          "started", "day", "status", "request", "pid")
_FINISH = ("status", "revised_prompt", "model", "api_mode", "size", "format", "duration", "error_code",
           "error_message", "response_ids", "request_id", "usage", "cost")


def begin(conn: sqlite3.Connection, fields: dict) -> int:
    """A new entry (status ``running`` unless given); its id."""
    values = {"status": "running", **fields}
    with writing(conn):
        entry = conn.execute(f"INSERT INTO entries ({', '.join(_BEGIN)}) VALUES ({', '.join('?' * len(_BEGIN))})",
                             [_plain(values.get(name)) for name in _BEGIN]).lastrowid
        _index(conn, entry, values.get("prompt"), None)
    return entry


def add_file(conn: sqlite3.Connection, entry: int, kind: str, index: int, path: str) -> None:
    """A file the entry's job wrote (``image`` or ``partial``); it stands for the entry until an image does."""
    with writing(conn):
        _file(conn, entry, kind, index, path)


def finish(conn: sqlite3.Connection, entry: int, fields: dict, images: Iterable[str], partials: Iterable[str]) -> None:
    """The outcome: the given fields, every final image and partial, and what stands for the entry."""
    images, partials = list(images), list(partials)
    with writing(conn):
        for index, path in enumerate(partials):
            _file(conn, entry, "partial", index, path)
        for index, path in enumerate(images):
            _file(conn, entry, "image", index, path)
        names = [name for name in _FINISH if name in fields]
        conn.execute(f"UPDATE entries SET {', '.join(f'{n} = ?' for n in names)}, images = ?, pid = NULL WHERE id = ?",
                     [*(_plain(fields[n]) for n in names), len(images), entry])
        row = conn.execute("SELECT prompt, revised_prompt FROM entries WHERE id = ?", (entry,)).fetchone()
        if row is not None and row[1]:
            _index(conn, entry, row[0], row[1])


def mark_missing(conn: sqlite3.Connection, changes: dict[int, bool]) -> None:
    """Set files missing (True) or back (False), and each touched entry's flag from its own files."""
    if not changes:
        return
    with writing(conn):
        conn.executemany("UPDATE files SET missing = ? WHERE id = ?", [(int(v), k) for k, v in changes.items()])
        conn.execute(f"""UPDATE entries SET missing = EXISTS (SELECT 1 FROM files f WHERE f.entry = entries.id
                         AND f.missing AND f.kind = CASE WHEN entries.images THEN 'image' ELSE 'partial' END)
                         WHERE id IN (SELECT entry FROM files WHERE id IN ({', '.join('?' * len(changes))}))""",
                     list(changes))


def set_status(conn: sqlite3.Connection, entry: int, status: str, code: str | None, message: str | None) -> None:
    with writing(conn):
        conn.execute("UPDATE entries SET status = ?, error_code = ?, error_message = ?, pid = NULL WHERE id = ?",
                     (status, code, message, entry))


def _file(conn: sqlite3.Connection, entry: int, kind: str, index: int, path: str) -> None:
    try:
        size = os.stat(path).st_size
    except OSError:
        size = None
    conn.execute("""INSERT INTO files (entry, kind, idx, path, bytes) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (entry, kind, idx) DO UPDATE SET path = excluded.path, bytes = excluded.bytes""",
                 (entry, kind, index, path, size))
    # The first final image stands for the entry; before one exists, the newest partial does.
    conn.execute("""UPDATE entries SET thumb = (SELECT id FROM files WHERE entry = ?1
                    ORDER BY kind = 'image' DESC, CASE kind WHEN 'image' THEN -idx ELSE idx END DESC LIMIT 1)
                    WHERE id = ?1""", (entry,))


def _index(conn: sqlite3.Connection, entry: int, prompt: str | None, revised: str | None) -> None:
    if not _has_search(conn):
        return
    try:
        conn.execute("DELETE FROM search WHERE rowid = ?", (entry,))
        conn.execute("INSERT INTO search (rowid, text) VALUES (?, ?)", (entry, index_text(prompt, revised)))
    except sqlite3.OperationalError:
        pass  # a Python whose SQLite lacks FTS5, on a database made by one that has it: the entry still counts


def _has_search(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'search'").fetchone()
    return row is not None and row[0] == "fts5"


def _plain(value: object) -> object:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else value

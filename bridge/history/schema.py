"""The history's tables, as numbered steps; a database is brought up to the newest step when opened.

Steps only add (tables, columns, indexes), so an older bridge still writes to a database a newer
one migrated. ``PRAGMA user_version`` holds the step reached; each step runs inside the write
transaction that checks it, so processes opening the database at once migrate it once.
"""
from __future__ import annotations

import sqlite3

_TABLES = ("""
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,         -- the job id of a job, else run_<hex>
    face TEXT NOT NULL,               -- cli | mcp | card | library
    owner TEXT,                       -- NULL: the local user, else a shared server's caller (auth.owner_of)
    kind TEXT NOT NULL,               -- generate | edit
    prompt TEXT NOT NULL,
    revised_prompt TEXT,
    model TEXT,                       -- the image model
    api_mode TEXT,
    size TEXT,                        -- WxH as saved, else as asked
    format TEXT,
    project TEXT,                     -- the folder relative output folders resolve against
    output_dir TEXT,
    started REAL NOT NULL,            -- Unix time
    day TEXT NOT NULL,                -- the local date it started, YYYY-MM-DD
    duration REAL,
    status TEXT NOT NULL,             -- running | ok | partial | failed | lost
    error_code TEXT,
    error_message TEXT,
    response_ids TEXT,                -- JSON: image path -> Responses API answer id
    request_id TEXT,                  -- the relay's request id, when it sent one
    usage TEXT,                       -- JSON, as the relay reported it
    cost REAL,                        -- USD, only when the relay reported it
    images INTEGER NOT NULL DEFAULT 0,
    request TEXT NOT NULL,            -- JSON: the request, for regenerate and variation
    pid INTEGER,                      -- the process that records it while it runs
    thumb INTEGER,                    -- files.id of the picture that stands for it
    missing INTEGER NOT NULL DEFAULT 0
)""", "CREATE INDEX entries_newest ON entries (owner, started DESC, id DESC)",
    "CREATE INDEX entries_day ON entries (day)", """
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    entry INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,               -- image | partial
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER,
    missing INTEGER NOT NULL DEFAULT 0,
    UNIQUE (entry, kind, idx)
)""", "CREATE INDEX files_path ON files (path)", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")


def _tables(conn: sqlite3.Connection) -> None:
    for statement in _TABLES:  # not executescript: it would commit the migration's transaction
        conn.execute(statement)


def _search(conn: sqlite3.Connection) -> None:
    """Full-text search over prompts (FTS5), filled from what is there; LIKE when SQLite lacks FTS5."""
    try:
        conn.execute("CREATE VIRTUAL TABLE search USING fts5(text, tokenize = 'unicode61')")
    except sqlite3.OperationalError:
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('search', 'like')")
        return
    from .search import index_text
    rows = conn.execute("SELECT id, prompt, revised_prompt FROM entries").fetchall()
    conn.executemany("INSERT INTO search (rowid, text) VALUES (?, ?)",
                     [(row[0], index_text(row[1], row[2])) for row in rows])
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('search', 'fts5')")


STEPS = [
    _tables,
    _search,
]
VERSION = len(STEPS)


def migrate(conn: sqlite3.Connection, upto: int = VERSION) -> int:
    """Run the steps this database lacks (up to ``upto``); the version it is at afterwards."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= upto:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
        for number in range(version, upto):
            STEPS[number](conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(version, upto)

"""Reading the history: a page of one owner's entries, newest first, narrowed by search and filters;
one entry and its files; the values the filters offer; totals of images and cost."""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from .search import fts_query, like_patterns

PAGE_MAX = 200
STATUSES = {"ok": "status = 'ok'", "failed": "status IN ('failed', 'lost', 'partial')",
            "running": "status = 'running'", "missing": "missing = 1"}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TOTALS = {"day": "day", "month": "substr(day, 1, 7)", "model": "coalesce(model, '')"}
LIST_COLUMNS = ("id, uid, face, kind, prompt, model, size, format, project, started, duration, status, "
                "error_code, cost, images, thumb, missing")


@dataclass(frozen=True)
class Filters:
    """What narrows a page; ``owner`` None is the local user (never another caller's entries)."""

    owner: str | None = None
    text: str = ""
    project: str = ""
    model: str = ""
    status: str = ""
    since: str = ""  # YYYY-MM-DD, inclusive
    until: str = ""

    def where(self, conn: sqlite3.Connection) -> tuple[str, list]:
        clauses, args = ["owner IS ?"], [self.owner]
        if self.project:
            clauses.append("project = ?")
            args.append(self.project)
        if self.model:
            clauses.append("coalesce(model, '') = ?")
            args.append(self.model)
        if self.status in STATUSES:
            clauses.append(STATUSES[self.status])
        for day, test in ((self.since, "day >= ?"), (self.until, "day <= ?")):
            if _DAY.match(day or ""):
                clauses.append(test)
                args.append(day)
        if self.text.strip() and search_kind(conn) == "fts5":
            match = fts_query(self.text)  # None: only punctuation, which narrows nothing
            if match:
                clauses.append("id IN (SELECT rowid FROM search WHERE search MATCH ?)")
                args.append(match)
        elif self.text.strip():
            for pattern in like_patterns(self.text):
                clauses.append("(prompt LIKE ? ESCAPE '\\' OR coalesce(revised_prompt, '') LIKE ? ESCAPE '\\')")
                args += [pattern, pattern]
        return " AND ".join(clauses), args


def search_kind(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'search'").fetchone()
    return row[0] if row else "like"


def page(conn: sqlite3.Connection, filters: Filters, offset: int = 0, limit: int = 60) -> tuple[int, list[sqlite3.Row]]:
    """How many entries match, and ``limit`` of them from ``offset``, newest first."""
    where, args = filters.where(conn)
    limit, offset = max(1, min(limit, PAGE_MAX)), max(0, offset)
    total = conn.execute(f"SELECT count(*) FROM entries WHERE {where}", args).fetchone()[0]
    rows = conn.execute(f"SELECT {LIST_COLUMNS} FROM entries WHERE {where} ORDER BY started DESC, id DESC "
                        "LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
    return total, rows


def entry(conn: sqlite3.Connection, ref: str | int, owner: str | None) -> sqlite3.Row | None:
    """One of ``owner``'s entries, by id or by uid (a job id)."""
    column = "id" if isinstance(ref, int) or str(ref).isdigit() else "uid"
    return conn.execute(f"SELECT * FROM entries WHERE {column} = ? AND owner IS ?", (ref, owner)).fetchone()


def files(conn: sqlite3.Connection, entry_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM files WHERE entry = ? ORDER BY kind, idx", (entry_id,)).fetchall()


def file(conn: sqlite3.Connection, file_id: int, owner: str | None) -> sqlite3.Row | None:
    """A file the history records for one of ``owner``'s entries: the only files ever served."""
    return conn.execute("SELECT f.* FROM files f JOIN entries e ON e.id = f.entry WHERE f.id = ? AND e.owner IS ?",
                        (file_id, owner)).fetchone()


def entry_of_path(conn: sqlite3.Connection, path: str) -> int | None:
    """The local user's newest entry that saved ``path``."""
    row = conn.execute("SELECT e.id FROM files f JOIN entries e ON e.id = f.entry WHERE f.path = ? "
                       "AND e.owner IS NULL ORDER BY e.id DESC LIMIT 1", (path,)).fetchone()
    return row[0] if row else None


def file_of_path(conn: sqlite3.Connection, path: str) -> int | None:
    """The id of the local user's newest recorded file at ``path``."""
    row = conn.execute("SELECT f.id FROM files f JOIN entries e ON e.id = f.entry WHERE f.path = ? "
                       "AND e.owner IS NULL ORDER BY f.id DESC LIMIT 1", (path,)).fetchone()
    return row[0] if row else None


def facets(conn: sqlite3.Connection, owner: str | None) -> dict:
    """The projects and models the filters offer, most used first."""
    out = {}
    for name, column in (("projects", "project"), ("models", "coalesce(model, '')")):
        rows = conn.execute(f"SELECT {column} AS value, count(*) AS n FROM entries WHERE owner IS ? "
                            f"GROUP BY {column} ORDER BY n DESC, value LIMIT 200", (owner,)).fetchall()
        out[name] = [{"value": row["value"], "count": row["n"]} for row in rows if row["value"] is not None]
    return out


def totals(conn: sqlite3.Connection, filters: Filters, by: str, limit: int = 60) -> list[dict]:
    """Images and reported cost per day, month or model; ``priced`` counts the entries with a cost."""
    where, args = filters.where(conn)
    key = TOTALS[by]
    order = "key DESC" if by != "model" else "images DESC, key"
    rows = conn.execute(f"SELECT {key} AS key, sum(images) AS images, count(*) AS entries, sum(cost) AS cost, "
                        f"count(cost) AS priced FROM entries WHERE {where} GROUP BY {key} ORDER BY {order} LIMIT ?",
                        [*args, limit]).fetchall()
    return [dict(row) for row in rows]


def running(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, pid FROM entries WHERE status = 'running'").fetchall()


def filters_from(params: dict, owner: str | None = None) -> Filters:
    """Filters from a query string's values (``parse_qs``: lists), each cut to a sane length."""
    one = lambda name: (params.get(name) or [""])[0][:500]  # noqa: E731
    return Filters(owner=owner, text=one("q"), project=one("project"), model=one("model"), status=one("status"),
                   since=one("since"), until=one("until"))


def number(params: dict, name: str, default: int) -> int:
    value = as_int((params.get(name) or [None])[0])
    return default if value is None else value


def as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

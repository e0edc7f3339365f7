"""What the page receives: entries as tiles and as a detail, and an entry or a running job in the
shape the image card draws (the ``_meta`` card of server/card.py). Files appear by their id in
the history, the only handle the page can use to ask for one; paths are shown, never taken back.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..result import markdown_image
from ..history import query

PROMPT_IN_TILE = 240
FILE_URI = "image-relay://library/files/{id}"  # what the card asks the page for; the page maps it to /file/{id}


def tile(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "prompt": row["prompt"][:PROMPT_IN_TILE], "status": row["status"], "face": row["face"],
            "started": row["started"], "size": row["size"], "model": row["model"], "project": _name(row["project"]),
            "cost": row["cost"], "images": row["images"], "thumb": row["thumb"], "missing": bool(row["missing"]),
            "error": row["error_code"], "kind": row["kind"]}


def detail(conn: sqlite3.Connection, row: sqlite3.Row, live=None) -> dict:
    """Everything the detail view shows of an entry, with its card."""
    files = query.files(conn, row["id"])
    shown = [f for f in files if f["kind"] == "image"] or [f for f in files if f["kind"] == "partial"][-1:]
    entry = {key: row[key] for key in ("id", "uid", "face", "kind", "prompt", "revised_prompt", "model", "api_mode",
                                       "size", "format", "project", "output_dir", "started", "duration", "status",
                                       "error_code", "error_message", "request_id", "cost", "images")}
    entry["usage"] = _json(row["usage"])
    entry["project_name"] = _name(row["project"])
    entry["missing"] = bool(row["missing"])
    return {"entry": entry, "files": [{"id": f["id"], "kind": f["kind"], "index": f["idx"], "name": Path(f["path"]).name,
                                       "path": f["path"], "bytes": f["bytes"], "missing": bool(f["missing"])} for f in files],
            "markdown": markdown_image(shown[0]["path"], row["prompt"]) if shown else None,
            "card": card(conn, row, files, live)}


def card(conn: sqlite3.Connection, row: sqlite3.Row, files: list[sqlite3.Row], live=None) -> dict:
    """The entry as the card draws it; ``live`` (a running Job) adds its progress. An edit's sources
    the history made itself are shown beside it (others are files it never served)."""
    status = {"ok": "done", "running": "pending"}.get(row["status"], "failed")
    images = [f for f in files if f["kind"] == "image"] if status == "done" else []
    partials = [f for f in files if f["kind"] == "partial"] if status != "done" else []
    error = {"code": row["error_code"], "message": row["error_message"] or ""} if status == "failed" else None
    made = {"job": row["uid"], "status": status, "prompt": row["prompt"], "revised_prompt": row["revised_prompt"],
            "elapsed": row["duration"], "size": row["size"], "format": row["format"], "warnings": [], "error": error,
            "images": [{"uri": FILE_URI.format(id=f["id"]), "file": f["id"], "name": Path(f["path"]).name,
                        "bytes": f["bytes"], "path": f["path"], "missing": bool(f["missing"])} for f in images],
            "partials": [{"index": f["idx"], "uri": FILE_URI.format(id=f["id"]), "file": f["id"],
                          "name": Path(f["path"]).name, "missing": bool(f["missing"])} for f in partials],
            "partials_total": len(partials), "edit": row["kind"] == "edit",
            "arguments": _json(row["request"]) or {"prompt": row["prompt"]}, "entry": row["id"]}
    made["sources"] = [{"name": Path(p).name, "file": found} for p in (made["arguments"].get("image_paths") or [])[:4]
                       if isinstance(p, str) and (found := query.file_of_path(conn, p)) is not None]
    first = (images or partials or [None])[0]
    made["folder"] = Path(first["path"]).parent.as_uri() if first and Path(first["path"]).is_absolute() else None
    if status == "pending":
        made["progress"] = progress(live)
    return made


def pending(job) -> dict:
    """A job the library started whose worker has not recorded it yet."""
    return {"job": job.id, "status": "pending", "prompt": job.prompt, "elapsed": round(job.elapsed(), 1),
            "warnings": [], "error": None, "images": [], "partials": [], "partials_total": 0, "sources": [],
            "edit": False, "arguments": None, "folder": None, "progress": progress(job)}


def progress(job) -> dict:
    last = job.progress[-1] if job is not None and job.progress else None
    return {"message": job.last_event if job is not None else "Generating…", "step": last.step if last else 0,
            "total": last.total if last else 0}


def _name(project: str | None) -> str:
    return Path(project).name or project if project else ""


def _json(text: str | None):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None

"""Job records older than the history (the MCP server's ``jobs/job_*.json`` and ``*.result``), taken in
once each: a record whose job id the history holds is left alone, so a job both recorded and kept
as a record counts once. Running jobs are left to their worker, which records them itself."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from .cost import reported_cost
from .entries import begin, finish


def import_job_records(conn: sqlite3.Connection, folder: Path) -> int:
    """How many records became entries."""
    try:
        paths = sorted(folder.glob("job_*.json"))
    except OSError:
        return 0
    known = {row[0] for row in conn.execute("SELECT uid FROM entries WHERE uid LIKE 'job\\_%' ESCAPE '\\'")}
    added = 0
    for path in paths:
        record = _read(path)
        if record is None or record["id"] in known or record.get("status") == "running":
            continue
        outcome = _load(folder / f"{record['id']}.result") or {}
        _add(conn, record, outcome)
        added += 1
    return added


def _add(conn: sqlite3.Connection, record: dict, outcome: dict) -> None:
    images = [p for p in record.get("image_paths") or outcome.get("image_paths") or [] if isinstance(p, str)]
    partials = [p for p in record.get("partial_image_paths") or outcome.get("partial_image_paths") or []
                if isinstance(p, str)]
    first = (images or partials or [None])[0]
    output_dir = str(Path(first).parent) if first else None
    project = str(Path(output_dir).parent) if output_dir and Path(output_dir).name == "outputs" else output_dir
    started = float(record.get("started") or time.time())
    prompt = outcome.get("alt_text") or record.get("alt_text") or record.get("prompt") or ""
    size, fmt = record.get("actual_size") or outcome.get("actual_size"), record.get("output_format")
    entry = begin(conn, {
        "uid": record["id"], "face": "mcp", "owner": record.get("owner"), "kind": "generate", "prompt": prompt,
        "model": outcome.get("model"), "api_mode": outcome.get("api_mode"), "size": size, "format": fmt,
        "project": project, "output_dir": output_dir, "started": started,
        "day": time.strftime("%Y-%m-%d", time.localtime(started)), "status": "running",
        "request": {"prompt": prompt, "size": size, "output_format": fmt}, "pid": None})
    ok = bool(record.get("ok"))
    error = record.get("error") or outcome.get("error") or {}
    lost = record.get("status") == "lost"
    status = "ok" if ok else "lost" if lost else "partial" if images else "failed"
    usage = outcome.get("usage")
    finish(conn, entry, {
        "status": status, "revised_prompt": outcome.get("revised_prompt"), "duration": record.get("elapsed_seconds"),
        "error_code": error.get("code") or ("lost" if lost else None),
        "error_message": error.get("message") or ("Its server stopped while it ran." if lost else None),
        "response_ids": record.get("response_ids") or None, "usage": usage, "cost": reported_cost(usage)},
        images if ok else (), partials)


def _read(path: Path) -> dict | None:
    record = _load(path)
    return record if record is not None and isinstance(record.get("id"), str) else None


def _load(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

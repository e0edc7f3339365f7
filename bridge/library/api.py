"""The library's JSON endpoints, one function each: (status, body), an ``error`` in English (``web``
shows it in the reader's language). HTTP itself is ``web``'s."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import BridgeError
from ..i18n import N_
from ..history import query, upkeep
from . import views

NO_ENTRY = N_("There is no such entry in your history.")
STATUS_WAIT_SECONDS = 1.5  # a job's status waits this long for news, as the card's card_status does


def page(conn, params: dict) -> tuple[int, dict]:
    upkeep.settle_running(conn)
    offset, limit = query.number(params, "offset", 0), query.number(params, "limit", 60)
    total, rows = query.page(conn, query.filters_from(params), offset, limit)
    tiles = [views.tile(row) for row in rows]
    gone = upkeep.notice_missing(conn, [t["thumb"] for t in tiles if t["thumb"]])
    for t in tiles:
        if t["thumb"] in gone:
            t["missing"] = gone[t["thumb"]]
    return 200, {"total": total, "offset": offset, "entries": tiles}


def facets(conn, params: dict) -> tuple[int, dict]:
    return 200, query.facets(conn, None)


def totals(conn, params: dict) -> tuple[int, dict]:
    narrowed = query.filters_from(params)
    return 200, {by: query.totals(conn, narrowed, by) for by in query.TOTALS}


def detail(conn, ref: str, actions) -> tuple[int, dict]:
    row = query.entry(conn, ref, None)
    if row is None:
        return 404, {"error": NO_ENTRY}
    upkeep.notice_missing(conn, [f["id"] for f in query.files(conn, row["id"])])
    row = query.entry(conn, row["id"], None)
    return 200, views.detail(conn, row, actions.live(row["uid"]) if row["status"] == "running" else None)


def job(conn, job_id: str, params: dict, actions) -> tuple[int, dict]:
    """A job's card, once something changed or STATUS_WAIT_SECONDS passed; partials from ``seen`` on."""
    seen = query.number(params, "seen", 0)
    live = actions.live(job_id)
    deadline = time.monotonic() + STATUS_WAIT_SECONDS
    before = None
    while True:
        upkeep.settle_running(conn)
        row = query.entry(conn, job_id, None)
        files = query.files(conn, row["id"]) if row is not None else []
        now = (row["status"] if row else None, len(files), len(live.progress) if live else 0)
        if before is None:
            before = now
        if now != before or time.monotonic() > deadline or (row is not None and row["status"] != "running"):
            break
        time.sleep(0.1)
    if row is None:
        if live is None:
            return 404, {"error": N_(f"There is no image job {job_id[:40]!r} in your history.")}
        return 200, {"card": views.pending(live)}
    made = views.card(conn, row, files, live)
    if made["status"] == "pending":
        made["partials"] = made["partials"][seen:]
    return 200, {"card": made}


def action(conn, body: dict, actions) -> tuple[int, dict]:
    row = query.entry(conn, str(body.get("entry", "")), None)
    if row is None:
        return 404, {"error": NO_ENTRY}
    try:
        job_id = actions.start(conn, row, str(body.get("action", "")), n=query.as_int(body.get("n")),
                               index=query.as_int(body.get("index")) or 0, prompt=body.get("prompt"),
                               mask_png=body.get("mask_png") or None)
    except BridgeError as error:
        return 400, {"error": error.message}
    return job(conn, job_id, {"seen": ["0"]}, actions)


def open_folder(conn, body: dict) -> tuple[int, dict]:
    """Open the folder of an entry's images in the system's file manager."""
    from ..viewer import open_image
    row = query.entry(conn, str(body.get("entry", "")), None)
    if row is None:
        return 404, {"error": NO_ENTRY}
    folders = [str(Path(f["path"]).parent) for f in query.files(conn, row["id"])]
    folder = next((f for f in folders if os.path.isdir(f)), None)
    if folder is None:
        return 404, {"error": N_("That folder is no longer on this machine.")}
    return 200, {"opened": open_image(folder), "folder": folder}  # a viewer opens a folder as it opens a file

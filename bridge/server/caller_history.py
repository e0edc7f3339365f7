"""A shared server's callers read their own history: ``GET /library/entries`` on the server, with the
bearer token their client already sends (the rules of downloads: another caller's entries, like
unknown ones, are never listed; no token is a 401). Images come as the caller's own download links;
no server path, project folder or relay detail is ever in the answer. Query: ``q`` (prompt
search), ``offset``, ``limit``, ``status``, ``since``, ``until``."""
from __future__ import annotations

ROUTE = "/library/entries"


async def serve(request):
    import anyio.to_thread
    from starlette.responses import JSONResponse

    from . import downloads
    from .callers import caller_of
    caller = caller_of(request)
    if caller is None:
        return JSONResponse({"error": "invalid_token", "error_description": "Authentication required"},
                            status_code=401, headers={"WWW-Authenticate": downloads.challenge(request)})
    params = {key: [value] for key, value in request.query_params.items()}
    body = await anyio.to_thread.run_sync(_page, caller, params)
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


def _page(caller, params: dict) -> dict:
    from pathlib import Path

    from ..history import query
    from ..history.db import connect
    narrowed = query.filters_from({k: v for k, v in params.items() if k != "project"}, owner=caller.owner)
    conn = connect()
    try:
        total, rows = query.page(conn, narrowed, query.number(params, "offset", 0), query.number(params, "limit", 60))
        out = []
        for row in rows:
            images = [f["path"] for f in query.files(conn, row["id"]) if f["kind"] == "image"]
            out.append({"id": row["uid"], "prompt": row["prompt"], "status": row["status"], "started": row["started"],
                        "size": row["size"], "format": row["format"], "model": row["model"], "cost": row["cost"],
                        "error": row["error_code"],
                        "images": [caller.link(path) for path in images if Path(path).is_file()]})
    finally:
        conn.close()
    return {"total": total, "entries": out}

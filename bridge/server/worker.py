"""One image job in a process of its own.

The MCP server starts it (``runner``, through ``system.detach``) so that a client that kills,
restarts or exits with its server, or closes the job object it keeps the server in, does not stop
a paid generation. It runs as ``python -I -c BOOT <package root> <address> <key>``: never ``-m``,
which would import the package from the server's working folder (for some clients the plugin's
install folder) and write bytecode there; ``-I`` keeps that folder and the user's site off the
import path, on every Python from 3.10. It calls its server back over a ``handoff`` line and reads
its order there as one JSON line: settings with the API key, the server's import path and its
environment (a worker started by the desktop shell or WMI inherits neither). The order never
touches the disk. It writes, in the user's job folder:

    <id>.events        one JSON line per progress event, appended as they happen
    <id>.result        the outcome (JSON), written once, atomically, at the end

Any later server of the same user follows those files. A line ``cancel`` stops the job; the line
closing (its server is gone) stops it only when the server was told to stop jobs whose call is
cancelled (IMAGE_RELAY_MCP_CANCEL_STOPS_JOB). Nothing is ever written to stdout or stderr.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import asdict, fields
from pathlib import Path

EVENTS = ".events"
RESULT = ".result"  # not .json: whoever lists the job records (job_*.json) never takes it for one


# What the interpreter runs: the package root first on the path, then the worker.
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from bridge.server.worker import boot; boot(*sys.argv[2:])"


def boot(address: str, key: str) -> None:
    """Call the server back, then run its order; the process ends here."""
    from ..system.handoff import connect
    try:
        line = connect(address, key)
    except (OSError, ValueError):
        os._exit(2)  # not started by a live server: nothing to report to
    # Not sys.exit: the interpreter's shutdown would wait for the thread that listens to the line.
    os._exit(main(line))


def main(line) -> int:
    started = time.time()
    try:
        order = json.loads((line.readline() or b"").decode("utf-8"))
        folder, job_id = Path(order["folder"]), order["job"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return 2  # no order: nothing to report to
    _take_over(order)
    from ..relay.transport import CancelToken
    cancel = CancelToken()
    threading.Thread(target=_listen, args=(line, cancel, bool(order.get("stop_when_orphaned"))), daemon=True).start()
    try:
        result = _run(order, folder / f"{job_id}{EVENTS}", cancel)
    except BaseException as exc:  # noqa: BLE001 - a job always ends with a result; never a traceback
        from ..result import GenerationResult
        result = GenerationResult(ok=False, elapsed_seconds=round(time.time() - started, 2), error={
            "code": "internal_error", "message": f"The job failed unexpectedly ({exc.__class__.__name__}).",
            "retryable": False}, exit_code=1)
    write_result(folder, job_id, result)
    return 0


def _take_over(order: dict) -> None:
    """The server's import path (after the package root) and environment (proxies, certificates)."""
    path = [p for p in order.get("path") or [] if isinstance(p, str) and p and p not in sys.path[:1]]
    sys.path[1:] = path
    environ = order.get("environ")
    if isinstance(environ, dict):
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in environ.items()})


def _run(order: dict, events: Path, cancel):
    from ..config import Settings
    from ..history import record
    from ..user_request import GenerationRequest

    settings = Settings(**order["settings"])
    request = GenerationRequest(**{**order["request"], "image_paths": tuple(order["request"]["image_paths"])})
    with open(events, "a", encoding="utf-8") as log:
        def on_progress(progress) -> None:
            log.write(json.dumps(asdict(progress), ensure_ascii=False) + "\n")
            log.flush()
        return record.generate(request, settings, face=order.get("face") or "mcp", on_progress=on_progress,
                               cancel=cancel, base_dir=Path(order["base_dir"]), job_id=order["job"],
                               owner=order.get("owner"))


def _listen(line, cancel, stop_when_orphaned: bool) -> None:
    """Orders from the server that started the job; its death closes the line."""
    for text in line.lines():
        if text.strip() == b"cancel":
            cancel.cancel()
            return
    if stop_when_orphaned:
        cancel.cancel()


def order_for(job_id: str, folder: Path, request, settings, base_dir: Path, stop_when_orphaned: bool, *,
              face: str = "mcp", owner: str | None = None) -> bytes:
    """The one line a worker reads: everything it needs, secrets included (it goes down the
    authenticated line, never to disk); ``face`` and ``owner`` are what the history records of who
    started it."""
    plain = {f.name: getattr(settings, f.name) for f in fields(settings)}
    plain["extra_headers"], plain["sources"] = dict(settings.extra_headers), dict(settings.sources)
    return (json.dumps({"job": job_id, "folder": str(folder), "settings": plain, "request": asdict(request),
                        "base_dir": str(base_dir), "stop_when_orphaned": stop_when_orphaned, "face": face,
                        "owner": owner, "path": sys.path, "environ": dict(os.environ)}) + "\n").encode("ascii")


def write_result(folder: Path, job_id: str, result) -> None:
    record = asdict(result)
    tmp = folder / f".{job_id}.result.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, folder / f"{job_id}{RESULT}")
    except OSError:
        tmp.unlink(missing_ok=True)  # the images are on disk; a later server reports the job as lost


def read_result(folder: Path, job_id: str):
    """The outcome a worker wrote, as a GenerationResult, or None while it runs."""
    from ..result import GenerationResult
    try:
        record = json.loads((folder / f"{job_id}{RESULT}").read_text(encoding="utf-8"))
        for name in ("image_paths", "partial_image_paths", "warnings"):
            record[name] = tuple(record.get(name) or ())
        return GenerationResult(**record)
    except (OSError, ValueError, TypeError):
        return None

"""One image job in a process of its own: ``python -m bridge.server.worker``.

The MCP server starts it detached (``runner``), so a client that kills, restarts or exits with
its server does not stop a paid generation. Its settings, the API key among them, arrive as one
JSON line on stdin and never touch the disk. It writes, in the user's job folder:

    <id>.events        one JSON line per progress event, appended as they happen
    <id>.result        the outcome (JSON), written once, atomically, at the end

Any later server of the same user follows those files. A line ``cancel`` on stdin stops the job;
stdin closing (its server is gone) stops it only when the server was told to stop jobs whose
call is cancelled (IMAGE_RELAY_MCP_CANCEL_STOPS_JOB). Nothing is ever written to stdout or stderr.
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


def main() -> int:
    started = time.time()
    line = sys.stdin.buffer.readline()
    try:
        order = json.loads(line.decode("utf-8"))
        folder, job_id = Path(order["folder"]), order["job"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return 2  # not started by a server: nothing to report to
    from ..relay.transport import CancelToken
    cancel = CancelToken()
    threading.Thread(target=_listen, args=(cancel, bool(order.get("stop_when_orphaned"))), daemon=True).start()
    try:
        result = _run(order, folder / f"{job_id}{EVENTS}", cancel)
    except BaseException as exc:  # noqa: BLE001 - a job always ends with a result; never a traceback
        from ..result import GenerationResult
        result = GenerationResult(ok=False, elapsed_seconds=round(time.time() - started, 2), error={
            "code": "internal_error", "message": f"The job failed unexpectedly ({exc.__class__.__name__}).",
            "retryable": False}, exit_code=1)
    write_result(folder, job_id, result)
    return 0


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


def _listen(cancel, stop_when_orphaned: bool) -> None:
    """Orders from the server that started the job; its death closes the pipe."""
    try:
        for line in sys.stdin.buffer:
            if line.strip() == b"cancel":
                cancel.cancel()
                return
    except (OSError, ValueError):
        pass
    if stop_when_orphaned:
        cancel.cancel()


def order_for(job_id: str, folder: Path, request, settings, base_dir: Path, stop_when_orphaned: bool, *,
              face: str = "mcp", owner: str | None = None) -> bytes:
    """The one line a worker reads: everything it needs, secrets included (it goes down a pipe);
    ``face`` and ``owner`` are what the history records of who started it."""
    plain = {f.name: getattr(settings, f.name) for f in fields(settings)}
    plain["extra_headers"], plain["sources"] = dict(settings.extra_headers), dict(settings.sources)
    return (json.dumps({"job": job_id, "folder": str(folder), "settings": plain, "request": asdict(request),
                        "base_dir": str(base_dir), "stop_when_orphaned": stop_when_orphaned, "face": face,
                        "owner": owner},
                       ensure_ascii=False) + "\n").encode("utf-8")


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


if __name__ == "__main__":
    code = main()
    # Not sys.exit: the interpreter's shutdown would wait a second for the stdin reader thread.
    os._exit(code)

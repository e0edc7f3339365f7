"""The one call each face makes to generate an image: ``generate``, which is ``core.generate_image``
with the generation recorded in the history (SPEC §10).

The entry is written before anything is sent (status ``running``), each partial image as it is
saved, and the outcome at the end; a generation stopped by a signal is recorded as such, with its
partials. The history never stands in a generation's way: if the database cannot be written, the
image is made all the same and the entry is left out.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path

from ..result import GenerationResult

STOPPED = "Stopped before it finished; partial images already received were kept."


def generate(request, settings, *, face: str, on_progress=None, cancel=None, base_dir: Path | None = None,
             job_id: str | None = None, owner: str | None = None) -> GenerationResult:
    """Generate (or edit) as ``core.generate_image`` does, and record it; ``face`` is cli, mcp, card or library."""
    from ..core import generate_image
    recorder = _Recorder(request, settings, face, base_dir, job_id, owner)

    def progress(event) -> None:
        if event.stage == "partial" and event.path:
            recorder.partial(event.path)
        if on_progress is not None:
            on_progress(event)

    try:
        result = generate_image(request, settings, on_progress=progress, cancel=cancel, base_dir=base_dir)
    except BaseException:
        recorder.stopped()
        raise
    recorder.finish(result)
    return result


class _Recorder:
    def __init__(self, request, settings, face: str, base_dir: Path | None, job_id: str | None, owner: str | None):
        self.lock = threading.Lock()  # one connection, and partials of an n > 1 job arrive from several threads
        self.partials: list[str] = []
        self.conn: sqlite3.Connection | None = None
        self.entry: int | None = None
        self.settings = settings
        project = Path(base_dir) if base_dir is not None else Path.cwd()
        output = Path(request.output_dir or settings.output_dir).expanduser()
        started = time.time()
        fields = {"uid": job_id or f"run_{secrets.token_hex(8)}", "face": face, "owner": owner,
                  "kind": "edit" if request.image_paths else "generate", "prompt": request.prompt,
                  "model": settings.image_model, "api_mode": settings.api_mode,
                  "size": request.size or settings.size, "format": request.output_format or settings.output_format,
                  "project": str(project), "output_dir": str(output if output.is_absolute() else project / output),
                  "started": started, "day": time.strftime("%Y-%m-%d", time.localtime(started)),
                  "request": asdict(request), "pid": os.getpid()}
        self._safely(self._begin, fields)

    def _begin(self, fields: dict) -> None:
        from .db import connect
        from .entries import begin
        self.conn = connect()
        self.entry = begin(self.conn, fields)

    def partial(self, path: str) -> None:
        from .entries import add_file
        with self.lock:
            self.partials.append(path)
            if self.entry is not None:
                self._safely(add_file, self.conn, self.entry, "partial", len(self.partials) - 1, path)

    def finish(self, result: GenerationResult) -> None:
        with self.lock:
            if self.entry is not None:
                self._finish(result)
            self._close()

    def _finish(self, result: GenerationResult) -> None:
        from .cost import reported_cost
        from .entries import finish
        error = result.error or {}
        debug = result.debug_summary or {}
        status = "ok" if result.ok else ("partial" if result.image_paths else "failed")
        fields = {"status": status, "revised_prompt": result.revised_prompt, "api_mode": result.api_mode,
                  "model": self.settings.image_model or result.model, "duration": result.elapsed_seconds,
                  "error_code": error.get("code"), "error_message": error.get("message"),
                  "response_ids": dict(result.response_ids) or None, "request_id": debug.get("request_id"),
                  "usage": result.usage, "cost": reported_cost(result.usage)}
        fields.update({k: v for k, v in (("size", result.actual_size), ("format", result.output_format)) if v})
        if not fields["api_mode"]:
            del fields["api_mode"]
        images = result.image_paths if result.ok else ()  # exit 9's image is the best partial, kept as one
        partials = result.partial_image_paths or tuple(self.partials)
        self._safely(finish, self.conn, self.entry, fields, images, partials)

    def stopped(self) -> None:
        from .entries import finish
        with self.lock:
            if self.entry is not None:
                self._safely(finish, self.conn, self.entry, {"status": "failed", "error_code": "interrupted",
                                                              "error_message": STOPPED}, (), tuple(self.partials))
            self._close()

    def _safely(self, write, *args) -> None:
        try:
            write(*args)
        except (sqlite3.Error, OSError, ValueError, TypeError):
            self.entry = None  # the image matters, the record does not: stop recording this one
            self._close()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
            self.conn = None

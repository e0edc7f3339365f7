"""The earlier image an ``edit_of`` names: one of this server's jobs, or the path of an image it saved.

One function, so every caller of it gets the same rules: job ids go through the job lookup (a job
of this server or its record on disk); a path must be a final image a finished job recorded. The
record also gives the Responses API answer that made the image, so the relay can edit it without
the image being uploaded again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class Produced:
    path: str
    response_id: str | None  # the Responses API answer that made it; None for the Images API


def produced_image(jobs, ref: str, principal: str | None = None) -> Produced:
    """The image ``ref`` (a job id or an image path) names, if this server produced it; InputError otherwise.

    ``principal`` is the caller the image must belong to, for a server shared by several; None is
    the local user, who owns every record no authenticated caller made.
    """
    ref = (ref or "").strip()
    if ref.startswith("job_"):
        record = _as_record(jobs.get(ref, principal))
        if record is None or not _belongs(record, principal):
            raise InputError(f"There is no image job {ref!r} on this machine to edit; pass the image's path in "
                             "edit_of or image_paths instead.")
        if record.get("status") == "running":
            raise InputError(f"Job {ref} is still running: call generate_image with job_id=\"{ref}\" to wait for "
                             "its image, then edit it.")
        paths = [p for p in record.get("image_paths") or () if Path(p).is_file()]
        if not record.get("ok") or not paths:
            raise InputError(f"Job {ref} has no saved image to edit.")
        path = paths[0]
    else:
        wanted = _same(ref)
        path, record = next(((p, r) for r in _finished(jobs, principal) if _belongs(r, principal)
                             for p in r.get("image_paths") or () if _same(p) == wanted), (None, None))
        if path is None or not Path(path).is_file():
            raise InputError("edit_of names no image this server saved; to edit another file, pass its path in "
                             "image_paths.")
    return Produced(path, (record.get("response_ids") or {}).get(path))


def _as_record(found) -> dict | None:
    """A job of this server as its record would read, or the record itself."""
    if found is None or isinstance(found, dict):
        return found
    result = found.result
    owner = getattr(found, "owner", None)
    if result is None or not found.done.is_set():
        return {"id": found.id, "status": "running", "owner": owner}
    return {"id": found.id, "status": "done", "ok": result.ok, "image_paths": list(result.image_paths),
            "response_ids": dict(result.response_ids), "owner": owner}


def _finished(jobs, principal: str | None):
    try:
        names = sorted((p.stem for p in Path(jobs.dir).glob("job_*.json")), reverse=True)
    except OSError:
        return
    for name in names:
        record = _as_record(jobs.get(name, principal))
        if record is not None and record.get("ok"):
            yield record


def _belongs(record: dict, principal: str | None) -> bool:
    return record.get("owner") == principal  # the job's caller (auth.owner_of); None: the local user


def _same(path: str) -> str:
    try:
        return os.path.normcase(str(Path(path).expanduser().resolve()))
    except (OSError, RuntimeError, ValueError):
        return path

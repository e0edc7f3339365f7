"""The one lookup of a reader's own images: what ``edit_of`` names and what the card shows or edits.

Every caller of it gets the same rules. A job id goes through the job lookup (a job of this server
or its record on disk), and only the reader's own job answers. A path must be a final image a
finished job of the reader's recorded (the local user only: a shared server's caller never names a
server path). An ``img_…`` id is one of the images a shared server's caller was given a link to. The
record also gives the Responses API answer that made the image, so the relay can edit it without
the image being uploaded again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class Produced:
    path: str
    response_id: str | None  # the Responses API answer that made it; None for the Images API


def own_image(jobs, ref: str, owner: str | None = None) -> Produced:
    """The image ``ref`` (a job id, an image path, or a caller's ``img_…`` id) names, when it is
    ``owner``'s (None: the local user, who owns every record no authenticated caller made);
    InputError otherwise."""
    ref = (ref or "").strip()
    if ref.startswith("job_"):
        return _from_job(jobs, ref, owner)
    if owner is not None:  # a shared server's caller: its own image ids, never a path on the server
        from . import downloads
        found = downloads.resolve(owner, ref.partition(".")[0]) if ref.startswith("img_") else None
        if found is None:
            raise InputError("edit_of names no image this server made for you: pass the job id or the img_… id "
                             "of one of your images, or send the image itself in `images`.")
        return Produced(str(found), _response_id(jobs, str(found), owner))
    wanted = _same(ref)
    path, record = next(((p, r) for r in _finished(jobs, owner)
                         for p in r.get("image_paths") or () if _same(p) == wanted), (None, None))
    if path is None or not Path(path).is_file():
        raise InputError("edit_of names no image this server saved; to edit another file, pass its path in "
                         "image_paths.")
    return Produced(path, (record.get("response_ids") or {}).get(path))


def job_file(jobs, job_id: str | None, kind: str, index: int, owner: str | None = None) -> str | None:
    """One of ``owner``'s job's files (``kind`` image or partial) that is still on disk, else None."""
    if not job_id:
        return None
    job = jobs.get(job_id.strip(), owner)
    if job is None:
        return None
    paths = job_paths(job, kind)
    path = paths[index] if 0 <= index < len(paths) else None
    return path if path and Path(path).is_file() else None


def job_paths(job: Any, kind: str) -> list[str]:
    """A job's final images or partials, from the live job or its record."""
    if isinstance(job, dict):
        return list(job.get("image_paths" if kind == "image" else "partial_image_paths") or [])
    result = job.result
    if kind == "image":
        return list(result.image_paths) if result is not None else []
    if result is not None and result.partial_image_paths:
        return list(result.partial_image_paths)
    return list(job.partial_paths)


def _from_job(jobs, ref: str, owner: str | None) -> Produced:
    record = _as_record(jobs.get(ref, owner))
    if record is None or record.get("owner") != owner:
        raise InputError(f"There is no image job {ref!r} on this machine to edit; pass the image's path in "
                         "edit_of or image_paths instead." if owner is None else
                         f"There is no image job {ref!r} of yours on this server to edit.")
    if record.get("status") == "running":
        raise InputError(f"Job {ref} is still running: call generate_image with job_id=\"{ref}\" to wait for "
                         "its image, then edit it.")
    paths = [p for p in record.get("image_paths") or () if Path(p).is_file()]
    if not record.get("ok") or not paths:
        raise InputError(f"Job {ref} has no saved image to edit.")
    return Produced(paths[0], (record.get("response_ids") or {}).get(paths[0]))


def _response_id(jobs, path: str, owner: str | None) -> str | None:
    wanted = _same(path)
    for record in _finished(jobs, owner):
        for known, response_id in (record.get("response_ids") or {}).items():
            if _same(known) == wanted:
                return response_id
    return None


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


def _finished(jobs, owner: str | None):
    try:
        names = sorted((p.stem for p in Path(jobs.dir).glob("job_*.json")), reverse=True)
    except OSError:
        return
    for name in names:
        record = _as_record(jobs.get(name, owner))
        if record is not None and record.get("ok") and record.get("owner") == owner:
            yield record


def _same(path: str) -> str:
    try:
        return os.path.normcase(str(Path(path).expanduser().resolve()))
    except (OSError, RuntimeError, ValueError):
        return path

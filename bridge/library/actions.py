"""The billed actions of the detail view (regenerate, variation, edit with a painted mask), run as
jobs of the MCP server's own kind (server/background + runner): a worker process per job, so the
image is saved even if the library stops; an identical request while one runs joins it instead of
paying again. The page has asked the person once before it posts; here nothing asks again.

Each job starts from what the history recorded of an entry, never from arguments the page sends
(only the edit's prompt, mask and which image, and how many variations). Its images go where the
entry's went, with the user's relay settings of now.
"""
from __future__ import annotations

import json
import threading
from dataclasses import fields, replace
from pathlib import Path

from ..errors import InputError
from ..paths import user_data_dir, user_state_dir
from ..history import query

ACTIONS = ("regenerate", "variation", "edit")
_EDIT_KEEPS = ("quality", "output_format", "background", "output_compression", "moderation", "input_fidelity",
               "use_template", "template")


class Actions:
    def __init__(self) -> None:
        self._jobs = None
        self._lock = threading.Lock()

    def jobs(self):
        with self._lock:
            if self._jobs is None:
                from ..server.background import Jobs
                self._jobs = Jobs(user_state_dir() / "jobs")
            return self._jobs

    def start(self, conn, row, action: str, *, n: int | None = None, index: int = 0, prompt: str | None = None,
              mask_png: str | None = None) -> str:
        """The id of the job that runs the action (a new one, or the identical one it joined)."""
        from ..config import load_settings, require
        from ..relay.transport import CancelToken
        from ..server.matching import call_key
        from ..server.runner import run_in_worker

        if action not in ACTIONS:
            raise InputError(f"Unknown action {action!r}.")
        request = _request(conn, row, action, n, index, prompt, mask_png)
        settings = load_settings()
        require(settings, settings.api_mode)  # no relay configured: a sentence naming the setting, nothing sent
        if row["output_dir"]:
            settings = replace(settings, output_dir=row["output_dir"])
        base = Path(row["project"]) if row["project"] and Path(row["project"]).is_dir() else user_data_dir()
        jobs = self.jobs()
        jobs.max_jobs = settings.mcp_max_jobs
        key = call_key(request, settings, None)
        found = jobs.find(key, None)
        if found is not None:
            return found["id"] if isinstance(found, dict) else found.id
        cancel = CancelToken()
        job = jobs.start(request.prompt, lambda job: run_in_worker(job, request, settings, base, jobs.dir, cancel),
                         cancel=cancel, key=key, face="library")
        # The page is this job's caller: no MCP server should later tell its model about it.
        threading.Thread(target=lambda: (job.done.wait(), jobs.mark_reported(job.id)), daemon=True).start()
        return job.id

    def live(self, job_id: str):
        """A job this library started and follows, else None."""
        if self._jobs is None:
            return None
        found = self._jobs.get(job_id, None)
        return found if found is not None and not isinstance(found, dict) else None


def _request(conn, row, action: str, n: int | None, index: int, prompt: str | None, mask_png: str | None):
    from ..user_request import GenerationRequest  # the page starts without the settings code
    stored = json.loads(row["request"] or "{}")
    known = {f.name for f in fields(GenerationRequest)}
    values = {k: v for k, v in stored.items() if k in known}
    values.setdefault("prompt", row["prompt"])
    values["image_paths"] = tuple(values.get("image_paths") or ())
    values["previous_response_id"] = None
    request = GenerationRequest(**values)
    if action == "regenerate":
        return request
    if action == "variation":
        return replace(request, seed=None, output_name=None, n=max(1, min(int(n or request.n or 1), 10)))
    if not (prompt or "").strip():
        raise InputError("Type what to change in the edit box first.")
    images = [f for f in query.files(conn, row["id"]) if f["kind"] == "image"]
    if not 0 <= index < len(images) or not Path(images[index]["path"]).is_file():
        raise InputError("The image to edit is no longer on this machine.")
    source = images[index]["path"]
    previous = (json.loads(row["response_ids"] or "{}") or {}).get(source)
    kept = {k: values[k] for k in _EDIT_KEEPS if k in values}
    return GenerationRequest(prompt=prompt.strip(), image_paths=(source,), size="auto", previous_response_id=previous,
                             mask_path=save_mask(mask_png) if mask_png else None, **kept)



def save_mask(data: str) -> str:
    from ..images.masks import save_painted_mask
    try:
        return save_painted_mask(data)
    except ValueError as error:
        raise InputError(str(error)) from None

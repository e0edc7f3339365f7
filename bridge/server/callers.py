"""Who a tool call belongs to on a shared server, and what that caller may touch.

The one place a principal becomes a key: ``owner`` ("t-NAME" for a stored token, "o-<hash>" for
an OAuth issuer and subject). Job records, notices, ``job_id`` lookups, output folders, uploads,
download ids and limits are all keyed by it, never by MCP session. A call with no authenticated
principal (stdio, or HTTP on loopback without ``--auth``) is the local user: ``caller_of``
returns None and nothing here applies.

A remote caller never names or receives a server path: images to edit arrive in the call
(base64, or the id of one of its own earlier images), MCP roots are not asked for, outputs go to
its own folder, and every error about an input image reads the same whatever the cause.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..paths import user_data_dir, user_state_dir
from . import downloads, uploads
from .auth import owner_of_user
from .sources import Produced, own_image

PUBLIC_URL: list[str] = []  # --public-url, when set; else links use the Host the caller reached
_usage_lock = threading.Lock()


@dataclass(frozen=True)
class Caller:
    """A shared server's authenticated caller: the ``audience.Audience`` of its calls."""

    owner: str
    base_url: str  # where this caller reaches the server: download links start here

    @property
    def state(self) -> Path:
        return user_state_dir() / "callers" / self.owner

    @property
    def file_link(self):
        return self.link

    def output_base(self) -> Path:
        return user_data_dir() / "callers" / self.owner

    async def outputs(self, settings, ctx):
        """The configured output folder, inside this caller's own folder (never the server's project)."""
        out = Path(settings.output_dir).expanduser()
        folder = (out / "callers" / self.owner) if out.is_absolute() else (self.output_base() / out)
        # shared: image links to this server's own network are refused (relay/links), whatever the relay
        return replace(settings, output_dir=str(folder), shared=True), self.output_base()

    def image_id(self, path: str) -> str:
        return downloads.publish(self.owner, path)

    def link(self, path: str) -> str:
        image_id = downloads.publish(self.owner, path)
        return f"{self.base_url}/images/{downloads.file_name(image_id, path)}"

    def scrub(self, text: str) -> str:
        """Remove any server folder of this caller's from text bound for it (belt and braces)."""
        for folder in (self.state, self.output_base(), user_data_dir(), user_state_dir()):
            text = text.replace(str(folder) + os.sep, "").replace(str(folder), "")
        return text

    def edit_source(self, jobs, ref: str) -> Produced:
        return own_image(jobs, ref, self.owner)

    # -- input images ---------------------------------------------------------------------

    def inputs(self, image_paths, mask_path, images, mask, limit: int) -> tuple[tuple[str, ...], str | None]:
        """Local files for the images sent in the call; InputError with a uniform message otherwise."""
        if image_paths or mask_path:
            raise InputError("This server does not read files named by a remote caller: send the image itself in "
                             "`images` (base64) or the id of an image this server made for you.")
        uploads.check_count(images)
        made = tuple(self._one(item, f"Image {i + 1}", limit) for i, item in enumerate(images or ()))
        return made, (self._one(mask, "The mask", limit) if mask else None)

    def _one(self, item: str, label: str, limit: int) -> str:
        item = (item or "").strip()
        if item.startswith("img_"):
            found = downloads.resolve(self.owner, item.partition(".")[0])
            if found is None:
                raise uploads.refusal(label, limit)
            return str(found)
        return uploads.save(item, label, limit, self.state / "uploads")

    # -- limits ---------------------------------------------------------------------------

    def admit(self, running: int, images: int, settings) -> str | None:
        """Why this caller may not start another job now (a sentence), else None; counts the images."""
        if running >= settings.mcp_caller_max_jobs:
            return (f"You already have {running} image jobs running, the most one caller may run at once on this "
                    "server: wait for them with job_id, then call again.")
        with _usage_lock:
            day = time.strftime("%Y-%m-%d", time.gmtime())
            usage_file = self.state / "usage.json"
            try:
                usage = json.loads(usage_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                usage = {}
            used = usage.get("images", 0) if usage.get("day") == day else 0
            limit = settings.mcp_caller_daily_images
            if limit and used + images > limit:
                return (f"You have generated {used} of your {limit} images for today (UTC) on this server; the count "
                        "starts again at midnight UTC, or the server's owner can raise it.")
            usage_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = usage_file.with_name(f".usage.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"day": day, "images": used + images}), encoding="utf-8")
            os.replace(tmp, usage_file)
        return None


def caller_of(request) -> Caller | None:
    """The authenticated caller of an HTTP request (``audience.audience_of`` passes it), else None."""
    owner = owner_of_user(getattr(request, "scope", {}).get("user"))
    if owner is None:
        return None
    base = PUBLIC_URL[0] if PUBLIC_URL else f"http://{request.headers.get('host', 'localhost')}"
    return Caller(owner=owner, base_url=base.rstrip("/"))

"""Who a generate_image call is for: the local user, or a shared server's authenticated caller.

Both are one small interface, so the tool's body reads as its steps and never asks which it has:

    owner        whose jobs, notices and images these are (None: the local user)
    outputs      where the images go (and where relative inputs resolve)
    inputs       where the images to edit come from
    edit_source  the earlier image an ``edit_of`` names (``sources``, the one lookup)
    admit        whether another job may start now (a sentence when not)
    file_link    how a saved file is named to the reader: None for its path, else a download link
    scrub        what is removed from text bound for the reader

``LocalUser`` lives here; ``callers.Caller`` is the shared server's. ``audience_of`` imports the
shared-server modules only for a request that carries an authenticated principal, so a stdio
server never loads them.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import anyio

from ..paths import user_data_dir, user_state_dir
from ..system.uris import path_from_file_uri
from . import uploads
from .sources import Produced, own_image


class Audience(Protocol):
    owner: str | None
    file_link: Callable[[str], str] | None

    async def outputs(self, settings, ctx) -> tuple[object, Path]: ...
    def inputs(self, image_paths: list[str] | None, mask_path: str | None, images: list[str] | None,
               mask: str | None, limit: int) -> tuple[tuple[str, ...], str | None]: ...
    def edit_source(self, jobs, ref: str) -> Produced: ...
    def admit(self, running: int, images: int, settings) -> str | None: ...
    def scrub(self, text: str) -> str: ...


class LocalUser:
    """The user whose machine runs the server: their files, their project, no limits of a caller's."""

    owner = None
    file_link = None

    async def outputs(self, settings, ctx):
        """The client's project (CLAUDE_PROJECT_DIR, MCP roots, the working folder), else the user data folder."""
        base = await _project_dir(ctx)
        out = Path(settings.output_dir).expanduser()
        return replace(settings, output_dir=str(out if out.is_absolute() else (base / out))), base

    def inputs(self, image_paths, mask_path, images, mask, limit):
        uploads.check_count(images)
        folder = user_state_dir() / "uploads"
        sent = tuple(uploads.save(item, f"Image {i + 1}", limit, folder) for i, item in enumerate(images or ()))
        sent_mask = uploads.save(mask, "The mask", limit, folder) if mask else None
        return (*(image_paths or ()), *sent), sent_mask or mask_path

    def edit_source(self, jobs, ref: str) -> Produced:
        return own_image(jobs, ref, None)

    def admit(self, running: int, images: int, settings) -> str | None:
        return None  # the server's own queue (IMAGE_RELAY_MCP_MAX_JOBS) orders the local user's jobs

    def scrub(self, text: str) -> str:
        return text


LOCAL = LocalUser()


def audience_of(ctx) -> Audience:
    """The request's authenticated caller on a shared server, else the local user."""
    try:
        request = ctx.request_context.request
    except (AttributeError, ValueError):
        request = getattr(ctx, "request", None)
    if request is None or not (getattr(request, "scope", None) or {}).get("user"):
        return LOCAL  # stdio, or HTTP without authentication: nothing of the shared server is loaded
    from .callers import caller_of
    return caller_of(request) or LOCAL


async def _project_dir(ctx) -> Path:
    project = os.environ.get("CLAUDE_PROJECT_DIR")
    if project and Path(project).is_dir():
        return Path(project)
    root = await _first_root(ctx)
    if root is not None:
        return root
    cwd = Path.cwd()
    if not is_plugin_dir(cwd) and cwd != Path(cwd.anchor) and cwd != Path.home():
        return cwd
    return user_data_dir()


async def _first_root(ctx) -> Path | None:
    if ctx is None:
        return None
    try:
        session = ctx.session
        capabilities = session.client_capabilities
        if capabilities is None or capabilities.roots is None:
            return None
        with warnings.catch_warnings(), anyio.fail_after(3):
            warnings.simplefilter("ignore")
            roots = await session.list_roots()
    except Exception:  # noqa: BLE001 - roots are a hint; any failure means "unknown"
        return None
    for root in roots.roots:
        path = path_from_file_uri(str(root.uri))
        if path is not None and path.is_dir():
            return path
    return None


def is_plugin_dir(path: Path) -> bool:
    """A plugin install folder or a client's own state folder (Codex may start servers in ~/.codex)."""
    if (path / ".claude-plugin").is_dir() or (path / ".codex-plugin").is_dir():
        return True
    try:
        inside_home = path.resolve().relative_to(Path.home().resolve())
    except ValueError:
        inside_home = None
    if inside_home is not None and any(part.startswith(".") for part in inside_home.parts):
        return True
    return "plugins/cache" in path.as_posix()

"""Images a remote caller made, over HTTP from the same server: ``GET /images/img_….png``.

The route asks for the caller's own credentials (the bearer token its client already sends), not
an unguessable link: a link pasted into a chat travels on to transcripts, model providers' logs
and screenshots, and would hand the image to whoever holds it; a token is revoked with one
command and revokes every download with it. Each saved image, partials included, gets a random
id in its owner's index; another caller's id, an unknown id and a file gone from disk are the
same 404.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path

from ..paths import user_state_dir

ROUTE = "/images/{name}"
MEDIA_TYPES = {".png": "image/png", ".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".webp": "image/webp"}
RESOURCE_METADATA_URL: list[str] = []  # set in OAuth mode, named in every 401 as the MCP endpoint does
_lock = threading.Lock()


def _index_file(owner: str) -> Path:
    return user_state_dir() / "callers" / owner / "images.json"


def _load(owner: str) -> dict[str, str]:
    try:
        data = json.loads(_index_file(owner).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def publish(owner: str, path: str) -> str:
    """The id of ``path`` in ``owner``'s index, added if new."""
    with _lock:
        index = _load(owner)
        for image_id, known in index.items():
            if known == path:
                return image_id
        image_id = "img_" + secrets.token_hex(16)
        index = {k: v for k, v in index.items() if Path(v).is_file()}  # forget files that are gone
        index[image_id] = path
        target = _index_file(owner)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".images.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(index), encoding="utf-8")
        os.replace(tmp, target)
        return image_id


def resolve(owner: str, image_id: str) -> Path | None:
    """The file behind one of ``owner``'s image ids, else None."""
    if not image_id.startswith("img_") or not image_id[4:].isalnum():
        return None
    path = _load(owner).get(image_id)
    return Path(path) if path and Path(path).is_file() else None


def file_name(image_id: str, path: str) -> str:
    return image_id + (Path(path).suffix.lower() or ".png")


async def serve(request):
    """The download route; every refusal says as little as the MCP endpoint's own."""
    from starlette.responses import FileResponse, JSONResponse

    from .auth import owner_of_user
    owner = owner_of_user(request.scope.get("user"))
    if owner is None:
        return JSONResponse({"error": "invalid_token", "error_description": "Authentication required"},
                            status_code=401, headers={"WWW-Authenticate": challenge(request)})
    image_id, _, _ = request.path_params["name"].partition(".")
    path = resolve(owner, image_id)
    if path is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                        filename=file_name(image_id, str(path)), headers={"Cache-Control": "private, no-store"})


def challenge(request) -> str:
    text = 'Bearer error="invalid_token", error_description="Authentication required"'
    metadata = RESOURCE_METADATA_URL[0] if RESOURCE_METADATA_URL else None
    return text + (f', resource_metadata="{metadata}"' if metadata else "")

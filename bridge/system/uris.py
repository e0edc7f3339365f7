"""``file:`` URIs and local paths, both ways, with Windows drive letters and UNC shares.

``urlparse('file:///C:/x').path`` is ``/C:/x``, a path that does not exist on Windows: the
drive letter comes out of the leading slash here (RFC 8089, as ``url2pathname`` does on Windows).
"""
from __future__ import annotations

import os
import re
from pathlib import Path, PurePath
from urllib.parse import unquote, urlparse

_DRIVE = re.compile(r"^/([A-Za-z])[:|](/|$)")


def path_from_file_uri(uri: str) -> Path | None:
    """The local path a ``file:`` URI names, or None for another scheme or a remote host."""
    text = local_path(uri, windows=os.name == "nt")
    return None if text is None else Path(text)


def local_path(uri: str, *, windows: bool) -> str | None:
    """The path text a ``file:`` URI names under Windows or POSIX rules (pure; tested on both)."""
    parts = urlparse(uri)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost"):
        # file://server/share/x is a UNC share on Windows and nothing local elsewhere
        return "\\\\" + parts.netloc + path.replace("/", "\\") if windows else None
    if not windows:
        return path
    drive = _DRIVE.match(path)
    if drive:
        path = f"{drive.group(1).upper()}:/{path[drive.end():]}"
    return path.replace("/", "\\")


def file_uri(path: str | PurePath) -> str:
    """An RFC 8089 URI for an absolute path, percent-encoded as UTF-8: ``file:///C:/My%20Pictures/a.png``."""
    return Path(path).as_uri()

"""Where the bridge looks for user configuration and keeps user data."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "image-relay-bridge"


def user_config_file(environ: Mapping[str, str] = os.environ) -> Path:
    """The user config file: read by every face of the bridge, so plugin-launched servers find the relay."""
    if sys.platform == "win32" and environ.get("APPDATA"):
        return Path(environ["APPDATA"]) / APP_NAME / ".env"
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / APP_NAME / ".env"


def user_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """A per-user directory for images when no project directory is known."""
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / APP_NAME
    if sys.platform == "darwin":
        return Path(environ.get("HOME") or Path.home()) / "Library" / "Application Support" / APP_NAME
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / APP_NAME


def user_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """A per-user cache (what each relay turned out not to support)."""
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / APP_NAME / "cache"
    base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".cache")
    return Path(base) / APP_NAME


def user_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """A per-user state directory (records of image jobs, so a restarted server can report them)."""
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / APP_NAME / "state"
    if sys.platform == "darwin":
        return Path(environ.get("HOME") or Path.home()) / "Library" / "Application Support" / APP_NAME / "state"
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / APP_NAME

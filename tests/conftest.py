"""Hermetic tests: no IMAGE_RELAY_* from the developer's shell, every user folder inside tmp_path."""
from __future__ import annotations

import pytest

SENTINEL_KEY = "sk-SENTINEL-0123456789abcdefSENTINEL"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    import os
    for name in list(os.environ):
        if name.startswith("IMAGE_RELAY_") or name in ("CLAUDE_PROJECT_DIR", "DISPLAY", "WAYLAND_DISPLAY"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    # Every folder the bridge (or the launcher) reads or writes for the user, on every platform:
    # the user config file, data, cache, state (job records) and the launcher's environments.
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))  # Path.home() on Windows
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
    # What a person reads follows their locale; tests read English unless they choose Chinese.
    monkeypatch.setenv("IMAGE_RELAY_LANG", "en")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture(scope="session")
def emulator():
    from bridge.emulator import start_emulator
    with start_emulator() as em:
        yield em


@pytest.fixture
def relay_env(emulator, monkeypatch):
    """Settings that point at the emulator, as a user would set them."""
    values = {"IMAGE_RELAY_BASE_URL": emulator.base_url, "IMAGE_RELAY_API_KEY": SENTINEL_KEY,
              "IMAGE_RELAY_TEXT_MODEL": "gpt-5", "IMAGE_RELAY_IMAGE_MODEL": "gpt-image-emulator",
              "IMAGE_RELAY_CLI_OPEN_IMAGE": "false", "IMAGE_RELAY_DEFAULT_SIZE": "64x48"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def tagged(monkeypatch, emulator, **options) -> str:
    """Point IMAGE_RELAY_BASE_URL at the emulator with these options and a fresh tag (so the
    requests of this test can be told apart); return the tag."""
    import uuid
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(**options, tag=tag))
    return tag


def posted(emulator, tag: str) -> list:
    """The POST requests the emulator received under ``tag``."""
    return [r for r in emulator.requests if r.options.get("tag") == tag and r.method == "POST"]


@pytest.fixture
def gemini_model(relay_env, monkeypatch):
    """A Gemini image model configured, and no default size (such models take a ratio)."""
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gemini-3-pro-image")
    monkeypatch.delenv("IMAGE_RELAY_DEFAULT_SIZE")
    return relay_env


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def mcp_env(relay_env, monkeypatch, tmp_path):
    """A project folder the MCP server takes as the client's (CLAUDE_PROJECT_DIR), relay configured."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    return project


@pytest.fixture
def fresh_jobs():
    """Each test's server starts with no jobs, its records under that test's own HOME."""
    import bridge.server.app as mcp_server
    mcp_server._JOBS.clear()
    yield
    mcp_server._JOBS.clear()

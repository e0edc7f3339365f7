"""The plugin's launcher, its decisions tested without building anything (check-plugins builds for real)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def launcher():
    spec = importlib.util.spec_from_file_location("launch_mcp", ROOT / "scripts" / "launch_mcp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_version_comes_from_the_plugins_own_pyproject(launcher):
    import bridge
    assert launcher.version() == bridge.__version__


def test_only_expanded_user_config_values_become_settings(launcher, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_PLUGIN_BASE_URL", "https://relay.example/v1")
    monkeypatch.setenv("IMAGE_RELAY_PLUGIN_API_KEY", "${user_config.api_key}")  # Codex: not expanded
    monkeypatch.setenv("IMAGE_RELAY_PLUGIN_TEXT_MODEL", "")  # Claude: not set
    monkeypatch.setenv("IMAGE_RELAY_PLUGIN_IMAGE_MODEL", "gpt-image-1.5")
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "chosen-in-the-environment")
    launcher.from_user_config()
    assert os.environ["IMAGE_RELAY_BASE_URL"] == "https://relay.example/v1"
    assert "IMAGE_RELAY_API_KEY" not in os.environ and "IMAGE_RELAY_TEXT_MODEL" not in os.environ
    assert os.environ["IMAGE_RELAY_IMAGE_MODEL"] == "chosen-in-the-environment"
    assert not [k for k in os.environ if k.startswith("IMAGE_RELAY_PLUGIN_")]


@pytest.mark.skipif(os.name == "nt", reason="POSIX only: a console script with a shebang; pip makes .exe launchers on Windows")
def test_an_installed_server_of_this_version_is_used(launcher, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "image-relay-mcp"
    script.write_text(f"#!{sys.executable}\nprint('server')\n", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    import bridge
    assert launcher.installed_on_path(bridge.__version__) == str(script)  # this venv has the package
    assert launcher.installed_on_path("0.0.0-other") is None


def test_an_environment_counts_as_ready_only_with_its_marker_and_server(launcher, tmp_path):
    venv = tmp_path / "env-1.0"
    assert not launcher.ready(venv, "1.0")
    launcher.server_in(venv).parent.mkdir(parents=True)
    launcher.server_in(venv).write_text("", encoding="utf-8")
    assert not launcher.ready(venv, "1.0")
    (venv / launcher.READY).write_text("1.0", encoding="utf-8")
    assert launcher.ready(venv, "1.0") and not launcher.ready(venv, "2.0")
    launcher.server_in(venv).unlink()
    assert not launcher.ready(venv, "1.0")  # broken: made again


def test_the_lock_serialises_two_starts(launcher, tmp_path):
    order = []

    def hold(name):
        with launcher.Lock(tmp_path / "env.lock"):
            order.append(f"{name} in")
            time.sleep(0.3)
            order.append(f"{name} out")

    first = threading.Thread(target=hold, args=("a",))
    first.start()
    time.sleep(0.05)
    hold("b")
    first.join()
    assert order == ["a in", "a out", "b in", "b out"]


def test_the_cache_folder_follows_xdg(launcher, monkeypatch, tmp_path):
    monkeypatch.delenv("LOCALAPPDATA")  # which Windows prefers
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert launcher.cache_dir() == tmp_path / "image-relay-bridge"


def test_an_old_python_gets_one_sentence(tmp_path):
    fake = tmp_path / "launch.py"
    fake.write_text((ROOT / "scripts" / "launch_mcp.py").read_text(encoding="utf-8").replace("(3, 10)", "(9, 0)"), encoding="utf-8")
    done = subprocess.run([sys.executable, str(fake)], capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 1 and done.stdout == "" and "needs Python 3.10 or newer" in done.stderr


@pytest.mark.skipif(os.name == "nt", reason="POSIX only: a console script with a shebang; pip makes .exe launchers on Windows")
def test_a_stale_build_in_the_plugin_folder_is_not_taken_for_the_installed_server(launcher, tmp_path, monkeypatch):
    # Clients start the server in the plugin folder; `python -c` would read metadata from there first.
    bin_dir, plugin = tmp_path / "bin", tmp_path / "plugin"
    bin_dir.mkdir()
    (plugin / "image_relay_bridge.egg-info").mkdir(parents=True)
    (plugin / "image_relay_bridge.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: image-relay-bridge\nVersion: 9.9.9\n", encoding="utf-8")
    script = bin_dir / "image-relay-mcp"
    script.write_text(f"#!{sys.executable}\nprint('server')\n", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(plugin)
    import bridge
    assert launcher.installed_on_path("9.9.9") is None
    assert launcher.installed_on_path(bridge.__version__) == str(script)


def test_a_start_from_the_plugin_folder_writes_nothing_there(tmp_path):
    import shutil
    plugin = tmp_path / "plugin"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in ("scripts", "bridge"):
        shutil.copytree(ROOT / item, plugin / item, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", plugin / "pyproject.toml")
    before = sorted(p.relative_to(plugin) for p in plugin.rglob("*"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, str(plugin / "scripts" / "launch_mcp.py"), "--version"], cwd=plugin,
                          env=env, capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("image-relay-mcp "), done.stderr
    assert sorted(p.relative_to(plugin) for p in plugin.rglob("*")) == before

#!/usr/bin/env python3
"""Start image-relay-mcp for a plugin install: the plugin's MCP entry runs this, with any Python 3.10+.

Neither Claude Code nor Codex installs Python packages. So: when an ``image-relay-mcp`` of this
plugin's version is on the PATH, run it. Otherwise make, once, a private virtual environment in
the per-user cache folder (keyed by the plugin's version), install the plugin's own package into
it with the ``[mcp]`` extra (``uv`` when it is on the PATH, else ``venv`` + ``pip``), and run the
server from there. A lock keeps two clients starting at once from racing; a broken environment
is made again. Nothing is written to the plugin folder (clients replace it on update): the
package is built from a copy. Progress goes to stderr, which the clients keep in their MCP logs;
a failure ends with one sentence naming the command that fixes it.

Standard library only. Arguments are passed on to the server. ``launch_mcp.py setup|doctor|generate
…`` runs that command from the same environment instead (``image-relay-setup`` and friends are
also linked into ``~/.local/bin`` when it is free to, so a plugin-only user has them on the PATH).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # clients replace the plugin folder on update: nothing is written there

NAME = "image-relay-bridge"
ROOT = Path(__file__).resolve().parent.parent
READY = ".image-relay-ready"


def say(text: str) -> None:
    print(f"{NAME}: {text}", file=sys.stderr, flush=True)


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if match is None:
        raise SystemExit(f"{NAME}: {ROOT / 'pyproject.toml'} names no version; reinstall the plugin.")
    return match.group(1)


def cache_dir() -> Path:
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / NAME / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / NAME


def neutral_dir() -> str:
    """Where child Pythons run: ``python -c`` puts its working directory first on sys.path, and a
    client starts servers in the plugin folder, whose own ``bridge/`` (or a stale egg-info) would
    then be imported instead of the environment's, with bytecode written beside it."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def scripts(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


COMMANDS = {"mcp": "image-relay-mcp", "setup": "image-relay-setup", "doctor": "image-relay-doctor",
            "generate": "image-relay-generate"}


def server_in(venv: Path, command: str = "image-relay-mcp") -> Path:
    return scripts(venv) / (f"{command}.exe" if os.name == "nt" else command)


def link_commands(venv: Path) -> None:
    """Put the bridge's commands on the PATH through ~/.local/bin, never replacing a file there."""
    if os.name == "nt":
        return
    local_bin = Path.home() / ".local" / "bin"
    try:
        local_bin.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    for command in COMMANDS.values():
        target, link = server_in(venv, command), local_bin / command
        if link.is_symlink() and NAME in os.readlink(link):
            link.unlink()  # ours, from an earlier version
        if not link.exists() and not link.is_symlink() and target.exists():
            try:
                link.symlink_to(target)
            except OSError:
                pass


def installed_on_path(wanted: str) -> str | None:
    """An image-relay-mcp on the PATH whose Python has this version of the package."""
    found = shutil.which("image-relay-mcp")
    if not found:
        return None
    python = _interpreter_of(Path(found))
    if python is None:
        return None
    try:
        done = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('image-relay-bridge'))"],
                              capture_output=True, text=True, timeout=20, cwd=neutral_dir())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if done.returncode == 0 and done.stdout.strip() == wanted else None


def _interpreter_of(script: Path) -> str | None:
    """The Python a console script runs with: its shebang, or the python beside it (Windows)."""
    try:
        first = script.open("rb").readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!"):
        parts = first[2:].split()
        return parts[0] if parts and Path(parts[0]).exists() else None
    beside = script.parent / ("python.exe" if os.name == "nt" else "python")
    return str(beside) if beside.exists() else None


USER_CONFIG = {"BASE_URL", "API_KEY", "TEXT_MODEL", "IMAGE_MODEL", "API_MODE"}


def from_user_config() -> None:
    """Claude Code's plugin settings (userConfig) arrive as IMAGE_RELAY_PLUGIN_<NAME>; an unset one
    is empty, and Codex, which expands nothing, passes the literal ``${user_config.…}``: both ignored.
    A variable the user set in the environment wins."""
    for name in USER_CONFIG:
        value = os.environ.pop(f"IMAGE_RELAY_PLUGIN_{name}", "").strip()
        if value and "${" not in value and not os.environ.get(f"IMAGE_RELAY_{name}"):
            os.environ[f"IMAGE_RELAY_{name}"] = value


def ready(venv: Path, wanted: str) -> bool:
    marker = venv / READY
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == wanted and server_in(venv).exists()


class Lock:
    """An exclusive lock on a file, so one client builds while the other waits."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        if os.name == "nt":
            import msvcrt
            while True:
                try:
                    msvcrt.locking(self.handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.5)
        else:
            import fcntl
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()  # closing releases the lock


def build(venv: Path, wanted: str) -> None:
    work = venv.parent / f"build-{wanted}"
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    # Built from a copy: building in place would leave egg-info and build folders in the plugin.
    source = work / "src"
    source.mkdir(parents=True)
    for item in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / item).exists():
            shutil.copy2(ROOT / item, source / item)
    shutil.copytree(ROOT / "bridge", source / "bridge", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    uv = shutil.which("uv")
    python = str(scripts(venv) / ("python.exe" if os.name == "nt" else "python"))
    if uv:
        steps = [[uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                 [uv, "pip", "install", "--quiet", "--python", python, f"{source}[mcp]"]]
    else:
        steps = [[sys.executable, "-m", "venv", str(venv)],
                 [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{source}[mcp]"]]
    steps.append([python, "-c", "import bridge.server.app"])  # the environment really works
    for step in steps:
        done = subprocess.run(step, stdout=sys.stderr, stderr=sys.stderr, cwd=neutral_dir())
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise SystemExit(f"{NAME}: could not prepare its Python environment ({Path(step[0]).name} "
                             f"{step[1]} failed); install the server yourself with: "
                             f"python3 -m pip install '{ROOT}[mcp]' (or pipx install '{ROOT}[mcp]'), then restart "
                             "the client.")
    (venv / READY).write_text(wanted, encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


def prepare(venv: Path, wanted: str) -> None:
    """Build in a detached child: a client that gives up on a slow first start (and kills this
    process) does not kill the build, so the next start finds the environment ready."""
    child = subprocess.Popen([sys.executable, "-B", str(Path(__file__).resolve()), "--build-environment"],
                             stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr, start_new_session=True,
                             cwd=neutral_dir())
    code = child.wait()
    if code != 0 or not ready(venv, wanted):
        raise SystemExit(code or 1)


def build_environment() -> None:
    """The detached child: build under the lock, unless another start already did."""
    wanted = version()
    venv = cache_dir() / f"env-{wanted}"
    with Lock(cache_dir() / f"env-{wanted}.lock"):
        if ready(venv, wanted):
            return
        say(f"preparing its Python environment in {venv} (once per version; this can take a minute)…")
        started = time.monotonic()
        build(venv, wanted)
        link_commands(venv)
        say(f"environment ready in {time.monotonic() - started:.0f} s")


def become(program: str, args: list[str]) -> None:
    """Hand this process over to ``program``. POSIX replaces the process. Windows has no exec:
    ``os.execv`` there starts a new process and joins its arguments unquoted (a path with a space
    splits), so the server runs as a child on the same stdin/stdout and its exit code is passed on.
    A console's Ctrl-C and Ctrl-Break reach both; the child decides when it ends."""
    if os.name != "nt":
        os.execv(program, [program, *args])
    import signal
    signal.signal(signal.SIGBREAK, signal.SIG_IGN)  # Ctrl-Break too is the child's to answer
    child = subprocess.Popen([program, *args])
    while True:
        try:
            raise SystemExit(child.wait())
        except KeyboardInterrupt:
            continue  # the child got the same Ctrl-C; wait for it to finish its reply


def main() -> None:
    if hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(encoding="utf-8", errors="backslashreplace")  # paths in messages, any code page
    if sys.version_info < (3, 10):
        raise SystemExit(f"{NAME}: needs Python 3.10 or newer (this is {sys.version.split()[0]}); install one and "
                         "put python3 on the PATH.")
    if sys.argv[1:] == ["--build-environment"]:
        build_environment()
        return
    wanted = version()
    args = sys.argv[1:]
    command = COMMANDS["mcp"]
    if args and args[0] in COMMANDS:
        command, args = COMMANDS[args[0]], args[1:]
    from_user_config()
    found = installed_on_path(wanted) if command == COMMANDS["mcp"] else None
    if found:
        become(found, args)
    venv = cache_dir() / f"env-{wanted}"
    if not ready(venv, wanted):
        prepare(venv, wanted)
    server = str(server_in(venv, command))
    try:
        become(server, args)
    except OSError:  # the environment broke (its Python was removed or upgraded): make it again
        say("its Python environment is broken; making it again…")
        (venv / READY).unlink(missing_ok=True)
        prepare(venv, wanted)
        become(server, args)


if __name__ == "__main__":
    main()

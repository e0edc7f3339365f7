"""How a job's worker starts: from the package the server runs, never from the server's working
folder (a plugin's install folder for Codex and Copilot CLI), and on a line that only its own
server and itself can speak on."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from bridge.server.worker import BOOT
from bridge.system.handoff import Line, Listener, connect
from tests.test_mcp import saved

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("fresh_jobs")


def console_script(name: str) -> str:
    """A command as pip installed it beside this interpreter, which is what clients start."""
    return str(Path(sys.executable).parent / (f"{name}.exe" if sys.platform == "win32" else name))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.anyio
async def test_nothing_is_imported_from_or_written_into_the_folder_a_client_starts_the_plugin_in(mcp_env, tmp_path):
    # An installed plugin, as Codex and Copilot CLI start its server: in the plugin's own folder,
    # which holds the package's source. Importing anything from it leaves a mark (and bytecode).
    plugin = tmp_path / "installed plugin"
    shutil.copytree(ROOT / "bridge", plugin / "bridge", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (plugin / ".codex-plugin").mkdir()
    (plugin / ".codex-plugin" / "plugin.json").write_text("{}", encoding="utf-8")
    with open(plugin / "bridge" / "__init__.py", "a", encoding="utf-8") as init:
        init.write("\nopen(__file__ + '.imported', 'w').close()\n")
    before = listing(plugin)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # bytecode on, as users have it
    server = StdioServerParameters(command=console_script("image-relay-mcp"), env=env, cwd=str(plugin))
    async with Client(server, read_timeout_seconds=120) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox from the plugin folder"})
    assert result.is_error is False and Path(saved(result)[0]).is_file(), result.content[0].text
    # The plugin's other commands, run there too (its launcher passes them on): doctor checks the relay.
    doctor = subprocess.run([console_script("image-relay-doctor"), "--json"], cwd=plugin, env=env, capture_output=True,
                            timeout=120)
    assert doctor.returncode == 0, doctor.stderr.decode("utf-8", "replace")
    setup = subprocess.run([console_script("image-relay-setup"), "--help"], cwd=plugin, env=env, capture_output=True,
                           timeout=60)
    assert setup.returncode == 0 and b"image-relay-setup" in setup.stdout
    assert listing(plugin) == before, sorted(set(listing(plugin)) - set(before))


def test_the_order_goes_only_to_the_caller_that_holds_the_key():
    listener = Listener()
    address, key = listener.args()
    host, port = address.rsplit(":", 1)
    seen: dict = {}

    def impostor() -> None:  # any local process can reach a loopback port
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            hello = sock.recv(100)
            sock.sendall(os.urandom(68))  # a nonce, a pid and a MAC it cannot make
            seen["impostor"] = (hello, sock.recv(100))

    def worker() -> None:
        line = connect(address, key)
        seen["order"] = line.readline()
        seen["then"] = list(line.lines())

    first = threading.Thread(target=impostor)
    first.start()
    line = listener.accept(2)
    assert line is None  # the impostor was hung up on, and nobody else called
    first.join(10)
    assert seen["impostor"][1] == b"" and seen["impostor"][0].startswith(b"image-relay-bridge worker")
    second = threading.Thread(target=worker)
    second.start()
    line = listener.accept(10)
    listener.close()
    assert isinstance(line, Line) and line.pid == os.getpid()
    assert line.send(b'{"order": 1}\n') and line.send(b"cancel\n")
    line.close()
    second.join(10)
    assert seen["order"] == b'{"order": 1}\n' and seen["then"] == [b"cancel\n"]


def test_a_worker_takes_no_order_from_a_server_without_its_key(tmp_path):
    listener = Listener()
    address, _ = listener.args()
    caller = threading.Thread(target=lambda: listener.accept(2))
    caller.start()
    with pytest.raises(OSError):
        connect(address, os.urandom(32).hex())
    caller.join(10)
    listener.close()
    # The worker itself, given the wrong key: it ends at once, without a word and without a file.
    listener = Listener()
    address, _ = listener.args()
    accepted: list = []
    caller = threading.Thread(target=lambda: accepted.append(listener.accept(2)))
    caller.start()
    folder = tmp_path / "job folder"
    folder.mkdir()
    done = subprocess.run([sys.executable, "-I", "-c", BOOT, str(ROOT), address, os.urandom(32).hex()],
                          cwd=folder, capture_output=True, timeout=60)
    caller.join(40)
    listener.close()
    assert done.returncode == 2 and done.stdout == b"" and done.stderr == b""
    assert accepted == [None] and list(folder.iterdir()) == []

"""The operating-system wing: UTF-8 streams, process liveness, file URIs, replacing held files."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bridge.system import files
from bridge.system.console import write_json
from bridge.system.processes import is_alive
from bridge.system.uris import file_uri, local_path, path_from_file_uri

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "一只狐狸 🦊 in the snow"


def _cp1252_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict")


def test_a_stream_that_cannot_encode_the_result_still_gets_it_as_ascii_json():
    stream = _cp1252_stream()
    write_json(stream, {"revised_prompt": PROMPT, "ok": True})
    text = stream.buffer.getvalue().decode("ascii")
    assert json.loads(text) == {"revised_prompt": PROMPT, "ok": True} and text.endswith("\n")


@pytest.mark.parametrize("codepage", ["cp1252", "cp936"])
def test_the_cli_writes_utf8_json_whatever_the_code_page(tmp_path, codepage):
    # PYTHONIOENCODING gives the child's pipes the encoding Windows gives them from its ANSI code page.
    env = {**os.environ, "PYTHONIOENCODING": codepage, "IMAGE_RELAY_DEFAULT_PROMPT_TEMPLATE": "请画：{prompt}",
           "IMAGE_RELAY_CLI_OPEN_IMAGE": "false"}
    env.pop("PYTHONUTF8", None)
    done = subprocess.run([sys.executable, "-m", "bridge", "--emulator", "--model", "gpt-image-emulator", "--size", "32x32", PROMPT],
                          capture_output=True, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    result = json.loads(done.stdout.decode("utf-8"))
    assert result["ok"] and Path(result["image_path"]).is_file()
    assert "请画" in result["revised_prompt"] and "🦊" in result["revised_prompt"]
    done.stderr.decode("utf-8")  # progress lines are UTF-8 too


def test_liveness_of_this_a_running_and_a_finished_process():
    assert is_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert is_alive(child.pid)
    finally:
        child.communicate(b"", timeout=30)
    assert not is_alive(child.pid)
    for nonsense in (None, 0, -1, True, "123", 2.5):
        assert not is_alive(nonsense)


def test_file_uris_round_trip_with_spaces_and_other_scripts(tmp_path):
    folder = tmp_path / "My Pictures" / "狐狸 源"
    folder.mkdir(parents=True)
    uri = file_uri(folder)
    assert uri.startswith("file:///") and " " not in uri and uri.isascii()
    assert path_from_file_uri(uri) == folder
    assert path_from_file_uri("https://example.com/x") is None


def test_drive_letters_and_shares_under_windows_rules():
    assert local_path("file:///C:/Users/First%20Last/proj", windows=True) == "C:\\Users\\First Last\\proj"
    assert local_path("file:///c|/x", windows=True) == "C:\\x"
    assert local_path("file://server/share/x", windows=True) == "\\\\server\\share\\x"
    assert local_path("file:///C:/", windows=True) == "C:\\"


def test_posix_rules():
    assert local_path("file:///tmp/First%20Last/%E7%8B%90", windows=False) == "/tmp/First Last/狐"
    assert local_path("file://localhost/tmp/x", windows=False) == "/tmp/x"
    assert local_path("file://server/share/x", windows=False) is None


def test_replace_waits_for_a_target_another_handle_holds(tmp_path):
    target, source = tmp_path / "record.json", tmp_path / "new.json"
    target.write_text("old", encoding="utf-8")
    source.write_text("new", encoding="utf-8")
    holder = open(target, encoding="utf-8")  # on Windows this blocks os.replace until closed
    threading.Timer(0.3, holder.close).start()
    started = time.monotonic()
    files.replace(source, target, retry_seconds=5)
    assert target.read_text(encoding="utf-8") == "new"
    if os.name == "nt":
        assert time.monotonic() - started >= 0.2  # it really had to wait
    holder.close()

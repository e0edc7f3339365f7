"""Opening the image for a person, and stopping a job with Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.clirun import as_in_a_terminal, run_cli


def _fake_viewer(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "opened.txt"
    viewer = bin_dir / "xdg-open"
    viewer.write_text(f"#!/bin/sh\necho \"$1\" > {marker}\necho noise-on-stdout\n", encoding="utf-8")
    viewer.chmod(0o755)
    return marker


@pytest.mark.skipif(os.name == "nt", reason="POSIX only: xdg-open and DISPLAY; Windows opens images with os.startfile")
def test_image_opens_in_the_viewer_when_there_is_a_display(relay_env, monkeypatch, tmp_path):
    marker = _fake_viewer(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("IMAGE_RELAY_CLI_OPEN_IMAGE", "true")
    run = run_cli("a viewed image")
    for _ in range(50):
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.read_text(encoding="utf-8").strip() == run.json["image_path"]
    assert "noise-on-stdout" not in run.stdout


def test_no_viewer_without_display_or_with_no_open(relay_env, monkeypatch, tmp_path):
    marker = _fake_viewer(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IMAGE_RELAY_CLI_OPEN_IMAGE", "true")
    assert run_cli("no display").code == 0
    monkeypatch.setenv("DISPLAY", ":0")
    assert run_cli("--no-open", "not opened").code == 0
    time.sleep(0.3)
    assert not marker.exists()


@pytest.mark.skipif(os.name == "nt", reason="POSIX only: SIGINT cannot be sent to a process on Windows; Ctrl-C "
                    "arrives as a console event, which Wine cannot deliver")
def test_ctrl_c_is_exit_130_with_json(relay_env, emulator, tmp_path):
    env = {**os.environ, "IMAGE_RELAY_BASE_URL": emulator.url(fault="stall", stall=30, tag=uuid.uuid4().hex[:8])}
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "--no-open", "interrupted job"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            preexec_fn=as_in_a_terminal)
    deadline = time.monotonic() + 20
    seen = ""
    while "rendering" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130
    result = json.loads(out)
    assert result["ok"] is False and result["error"]["code"] == "interrupted"

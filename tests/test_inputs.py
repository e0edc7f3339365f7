"""Bad input is rejected before any request (exit 2); failed writes are exit 8 with nothing half-written."""
from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from tests.clirun import run_cli
from tests.images import jpeg_header, png


@pytest.fixture
def nothing_sent(emulator):
    before = len(emulator.requests)
    yield
    assert len(emulator.requests) == before


def _error(run) -> str:
    assert run.code == 2, run.stdout
    message = run.json["error"]["message"]
    assert message.count(". ") <= 1 and len(message) < 200  # one plain sentence
    return message


def test_more_than_sixteen_images(relay_env, nothing_sent, tmp_path):
    (tmp_path / "a.png").write_bytes(png())
    args = sum((["--image", str(tmp_path / "a.png")] for _ in range(17)), [])
    assert "the limit is 16" in _error(run_cli(*args, "x"))


def test_oversized_source_image(relay_env, nothing_sent, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as handle:
        handle.write(png())
        handle.truncate(51 * 1024 * 1024)  # sparse: no real 51 MB written
    assert "the limit is 50 MB" in _error(run_cli("--image", str(big), "x"))


def test_mask_must_be_png(relay_env, nothing_sent, tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg_header(8, 6))
    (tmp_path / "m.jpg").write_bytes(jpeg_header(8, 6))
    assert "is not a PNG image" in _error(run_cli("--image", str(tmp_path / "a.jpg"), "--mask", str(tmp_path / "m.jpg"), "x"))


def test_mask_without_transparency(relay_env, nothing_sent, tmp_path):
    (tmp_path / "a.png").write_bytes(png(8, 8))
    (tmp_path / "m.png").write_bytes(png(8, 8))
    assert "no transparency" in _error(run_cli("--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "x"))


def test_mask_without_image(relay_env, nothing_sent, tmp_path):
    (tmp_path / "m.png").write_bytes(png())
    assert "needs at least one source image" in _error(run_cli("--mask", str(tmp_path / "m.png"), "x"))


def test_directory_is_not_an_image(relay_env, nothing_sent, tmp_path):
    assert "is not a file" in _error(run_cli("--image", str(tmp_path), "x"))


def test_over_long_prompt(relay_env, nothing_sent):
    assert "the limit is 32000" in _error(run_cli("x" * 32001))


@pytest.mark.parametrize("name", ["../up", "/abs", "a/b", "..", "a\\b"])
def test_output_name_cannot_leave_the_output_dir(relay_env, nothing_sent, name):
    assert "inside the output directory" in _error(run_cli("--output-name", name, "x"))


def test_jpeg_source_is_sent_with_its_real_type(relay_env, emulator, tmp_path):
    (tmp_path / "photo.jpeg").write_bytes(jpeg_header(8, 6))
    run_cli("--api-mode", "images", "--image", str(tmp_path / "photo.jpeg"), "jpeg type marker")
    sent = [r for r in emulator.requests if b"jpeg type marker" in r.body][0]
    part = next(p for p in sent.parts if p.name == "image")
    assert (part.filename, part.content_type) == ("photo.jpg", "image/jpeg")


def test_full_disk_is_exit_8_and_leaves_nothing_half_written(relay_env, monkeypatch, tmp_path):
    out = tmp_path / "out"
    real_open = builtins.open

    def full_disk_open(path, mode="r", *args, **kwargs):
        # Image temp files go to /dev/full, which fails every write with ENOSPC.
        if "x" in str(mode) and str(path).endswith(".tmp"):
            Path(path).touch()
            return real_open("/dev/full", "wb")
        return real_open(path, mode, *args, **kwargs)
    monkeypatch.setattr("bridge.store.open", full_disk_open, raising=False)
    run = run_cli("--output-dir", str(out), "--partial-images", "1", "disk full")
    assert run.code == 8 and run.json["error"]["code"] == "storage_error"
    assert "the disk is full" in run.json["error"]["message"]
    assert [p.name for p in out.iterdir() if p.is_file()] == []

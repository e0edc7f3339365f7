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


def test_mask_that_is_no_mask(relay_env, nothing_sent, tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg_header(8, 6))
    (tmp_path / "m.jpg").write_bytes(jpeg_header(8, 6))  # not decodable
    assert "not a black-and-white mask" in _error(run_cli("--image", str(tmp_path / "a.jpg"), "--mask",
                                                          str(tmp_path / "m.jpg"), "x"))


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
    monkeypatch.setattr("bridge.images.store.open", full_disk_open, raising=False)
    run = run_cli("--output-dir", str(out), "--partial-images", "1", "disk full")
    assert run.code == 8 and run.json["error"]["code"] == "storage_error"
    assert "the disk is full" in run.json["error"]["message"]
    assert [p.name for p in out.iterdir() if p.is_file()] == []


def _mask_sent(emulator, tag):
    import io
    from PIL import Image
    request = [r for r in emulator.requests if r.options.get("tag") == tag][0]
    mask = next(p for p in request.files if p.name == "mask")
    return Image.open(io.BytesIO(mask.data))


def test_black_and_white_masks_become_alpha_masks(relay_env, emulator, monkeypatch, tmp_path):
    import uuid
    from PIL import Image
    Image.new("RGB", (32, 32), (90, 90, 200)).save(tmp_path / "a.png")
    for name, mode, fmt in (("bw.png", "L", "PNG"), ("gray.jpg", "L", "JPEG"), ("rgb-white.png", "RGB", "PNG"),
                            ("opaque-rgba.png", "RGBA", "PNG")):
        mask = Image.new(mode, (32, 32), 0 if mode == "L" else (0, 0, 0) if mode == "RGB" else (0, 0, 0, 255))
        for x in range(8, 24):
            for y in range(8, 24):
                mask.putpixel((x, y), 255 if mode == "L" else (255, 255, 255) if mode == "RGB" else (255, 255, 255, 255))
        mask.save(tmp_path / name, fmt)
        tag = uuid.uuid4().hex[:8]
        monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
        run = run_cli("--api-mode", "images", "--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / name), "edit")
        assert run.code == 0, (name, run.stdout)
        assert any("was converted to the alpha mask" in w for w in run.json["warnings"]), name
        sent = _mask_sent(emulator, tag)
        assert sent.format == "PNG" and sent.mode == "RGBA"
        assert sent.getpixel((16, 16))[3] < 20 and sent.getpixel((2, 2))[3] > 235  # white -> transparent


def test_an_alpha_mask_passes_unchanged(relay_env, emulator, monkeypatch, tmp_path):
    import uuid
    (tmp_path / "a.png").write_bytes(png(8, 8))
    (tmp_path / "m.png").write_bytes(png(8, 8, alpha=True))
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    run = run_cli("--api-mode", "images", "--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "x")
    assert run.code == 0 and not [w for w in run.json["warnings"] if "mask" in w]
    request = [r for r in emulator.requests if r.options.get("tag") == tag][0]
    assert next(p for p in request.files if p.name == "mask").data == png(8, 8, alpha=True)


def test_a_converted_mask_of_the_wrong_size_is_still_refused(relay_env, nothing_sent, tmp_path):
    from PIL import Image
    (tmp_path / "a.png").write_bytes(png(8, 8))
    mask = Image.new("L", (16, 16), 0)
    mask.putpixel((1, 1), 255)
    mask.save(tmp_path / "m.png")
    assert "must have the same size" in _error(run_cli("--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "x"))

"""End to end over real HTTP against the relay emulator: every mode, edits, masks, --emulator."""
from __future__ import annotations

import json
from pathlib import Path

from bridge.images.sniff import read_info
from tests.clirun import run_cli
from tests.images import png


def _sent(emulator, marker: str):
    return [r for r in emulator.requests if marker.encode() in r.body]


def test_responses_mode_end_to_end(relay_env, emulator):
    run = run_cli("--partial-images", "1", "e2e responses marker")
    assert run.code == 0, run.stderr
    sent = _sent(emulator, "e2e responses marker")
    assert len(sent) == 1 and sent[0].path == "/v1/responses"
    body = json.loads(sent[0].body)
    assert body["model"] == "gpt-5" and body["tools"][0]["model"] == "gpt-image-emulator"
    assert sent[0].headers["authorization"] == f"Bearer {relay_env['IMAGE_RELAY_API_KEY']}"
    result = run.json
    assert result["api_mode"] == "responses" and Path(result["image_path"]).is_file()


def test_images_mode_generation_json(relay_env, emulator):
    run = run_cli("--api-mode", "images", "--n", "2", "e2e images marker")
    assert run.code == 0, run.stderr
    result = run.json
    assert result["api_mode"] == "images" and result["model"] == "gpt-image-emulator"
    assert len(result["image_paths"]) == 2 and len(set(result["image_paths"])) == 2
    assert all(read_info(Path(p).read_bytes()).size == "64x48" for p in result["image_paths"])
    assert len(result["markdown_images"]) == 2
    sent = _sent(emulator, "e2e images marker")
    assert sent[0].path == "/v1/images/generations" and json.loads(sent[0].body)["n"] == 2


def test_images_mode_streaming_with_partials(relay_env, emulator):
    run = run_cli("--api-mode", "images", "--partial-images", "2", "e2e images stream marker")
    assert run.code == 0, run.stderr
    assert len(run.json["partial_image_paths"]) == 2
    assert "Partial image 2 of 2 received" in run.stderr


def test_edit_with_mask_through_images_api(relay_env, emulator, tmp_path):
    (tmp_path / "photo.png").write_bytes(png(40, 30))
    (tmp_path / "second.png").write_bytes(png(40, 30, (0, 90, 200)))
    (tmp_path / "mask.png").write_bytes(png(40, 30, alpha=True))
    run = run_cli("--api-mode", "images", "--image", str(tmp_path / "photo.png"), "--image",
                  str(tmp_path / "second.png"), "--mask", str(tmp_path / "mask.png"), "--size", "auto",
                  "e2e edit mask marker")
    assert run.code == 0, run.stderr
    sent = _sent(emulator, "e2e edit mask marker")[0]
    assert sent.path == "/v1/images/edits"
    assert [(p.name, p.filename, p.content_type) for p in sent.parts if p.filename] == [
        ("image[]", "photo.png", "image/png"), ("image[]", "second.png", "image/png"), ("mask", "mask.png", "image/png")]
    assert next(p for p in sent.parts if p.name == "mask").data == (tmp_path / "mask.png").read_bytes()
    assert run.json["actual_size"] == "40x30"


def test_edit_through_responses_api(relay_env, emulator, tmp_path):
    (tmp_path / "photo.png").write_bytes(png(24, 16))
    (tmp_path / "mask.png").write_bytes(png(24, 16, alpha=True))
    run = run_cli("--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"), "--size", "auto",
                  "e2e responses edit marker")
    assert run.code == 0, run.stderr
    body = json.loads(_sent(emulator, "e2e responses edit marker")[0].body)
    assert body["input"][0]["content"][1]["image_url"].startswith("data:image/png;base64,")
    assert body["tools"][0]["input_image_mask"]["image_url"].startswith("data:image/png;base64,")
    assert run.json["actual_size"] == "24x16"


def test_auto_uses_images_for_several_images(relay_env, emulator):
    run = run_cli("--api-mode", "auto", "--n", "2", "e2e auto n marker")
    assert run.code == 0 and run.json["api_mode"] == "images"
    assert [r.path for r in _sent(emulator, "e2e auto n marker")] == ["/v1/images/generations"]


def test_auto_mode_prefers_the_images_api_for_several(relay_env, emulator, monkeypatch):
    import uuid
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    result = run_cli("--api-mode", "auto", "--n", "3", "three foxes").json
    assert result["ok"] and len(result["image_paths"]) == 3 and result["api_mode"] == "images"
    assert [r.path for r in emulator.requests if r.options.get("tag") == tag] == ["/v1/images/generations"]


def test_parallel_runs_give_distinct_complete_files(relay_env, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    out = str(tmp_path / "shared")
    with ThreadPoolExecutor(6) as pool:
        runs = list(pool.map(lambda _: run_cli("--quiet", "--output-dir", out, "same prompt"), range(6)))
    paths = [r.json["image_path"] for r in runs]
    assert all(r.code == 0 for r in runs) and len(set(paths)) == 6
    assert all(read_info(Path(p).read_bytes()).size == "64x48" for p in paths)
    assert not [p for p in Path(out).iterdir() if p.name.startswith(".")]  # no temporary files left


def test_n_images_through_the_responses_api_run_side_by_side(relay_env, emulator, monkeypatch):
    import time
    import uuid
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.3, tag=tag))
    started = time.monotonic()
    run = run_cli("--api-mode", "responses", "--n", "3", "--partial-images", "1", "three herons")
    elapsed = time.monotonic() - started
    result = run.json
    assert run.code == 0 and len(result["image_paths"]) == 3 and len(set(result["image_paths"])) == 3
    assert len(result["partial_image_paths"]) == 3 and result["warnings"] == []
    sent = [r for r in emulator.requests if r.options.get("tag") == tag]
    assert len(sent) == 3 and all(r.path == "/v1/responses" for r in sent)
    for k in (1, 2, 3):
        assert any(f"Image {k} of 3: Saved" in line for line in run.progress)
    assert elapsed < 3 * 8 * 0.3  # side by side: well under three streams one after another


def test_n_images_some_failing_still_return_the_rest(relay_env, emulator, monkeypatch):
    import uuid
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-500-json", times=1, tag=uuid.uuid4().hex[:8]))
    run = run_cli("--api-mode", "responses", "--n", "3", "two of three")
    assert run.code == 0 and len(run.json["image_paths"]) == 2
    assert [w for w in run.json["warnings"] if "failed (relay_error)" in w]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-500-json", tag=uuid.uuid4().hex[:8]))
    run = run_cli("--api-mode", "responses", "--n", "2", "none of two")
    assert run.code == 5 and run.json["error"]["code"] == "relay_error"

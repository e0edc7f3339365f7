"""CLI contract: one JSON object on stdout, progress and errors on stderr, documented exit codes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.images.sniff import read_info
from bridge.paths import user_config_file
from bridge.result import markdown_image
from tests.clirun import run_cli
from tests.images import png

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = re.compile(r"^\[progress\] \[\d+\.\ds\] \S.*$")


def test_success_prints_one_json_object_and_progress_lines(relay_env):
    run = run_cli("--partial-images", "2", "a red kite over hills")
    assert run.code == 0, run.stderr
    result = run.json
    assert result["ok"] is True and result["complete"] is True
    path = Path(result["image_path"])
    assert path.is_absolute() and path.is_file()
    assert result["image_paths"] == [str(path)]
    assert result["markdown_image"] == markdown_image(str(path), "a red kite over hills")
    info = read_info(path.read_bytes())
    assert result["actual_size"] == info.size == "64x48"
    assert result["output_format"] == "png" and result["bytes"] == path.stat().st_size
    assert len(result["partial_image_paths"]) == 2 and all(Path(p).is_file() for p in result["partial_image_paths"])
    assert result["api_mode"] == "responses" and result["model"] == "gpt-5"
    assert Path(result["raw_log_path"]).is_file() and result["raw_log_path"].startswith(str(path.parent / "logs"))
    assert result["debug_summary"]["events"]["response.output_item.done"] == 1
    assert result["warnings"] == [] and isinstance(result["elapsed_seconds"], float)
    assert all(PROGRESS.match(line) for line in run.progress), run.stderr
    messages = " | ".join(run.progress)
    for expected in ("Connected", "accepted", "Image is rendering", "Partial image 1 of 2", "Partial image 2 of 2",
                     "Final image received", "Saved"):
        assert expected in messages


def test_quiet_hides_progress(relay_env):
    run = run_cli("--quiet", "a quiet pond")
    assert run.code == 0 and run.stderr == ""


def test_show_progress_setting_hides_progress(relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_SHOW_PROGRESS", "false")
    run = run_cli("a quiet lake")
    assert run.code == 0 and run.progress == []


def test_debug_summary_can_be_switched_off(relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_SHOW_DEBUG_SUMMARY", "false")
    assert "debug_summary" not in run_cli("--quiet", "a field").json


def test_prompt_from_stdin_and_file(relay_env, tmp_path):
    assert run_cli("--quiet", "-", stdin="a teapot from stdin").json["markdown_image"].startswith("![a teapot from stdin]")
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("a teapot from a file", encoding="utf-8")
    assert run_cli("--quiet", "--prompt-file", str(prompt)).json["ok"]


def test_output_name_and_dir(relay_env, tmp_path):
    result = run_cli("--quiet", "--output-dir", str(tmp_path / "mine"), "--output-name", "Hero Shot", "x").json
    path = Path(result["image_path"])
    assert path.parent == tmp_path / "mine" and re.match(r"^\d{8}-\d{6}-hero-shot-[0-9a-f]{8}\.png$", path.name)


def test_markdown_uses_angle_form_for_awkward_paths(relay_env, tmp_path):
    out = tmp_path / "my images (v2)"
    result = run_cli("--quiet", "--output-dir", str(out), "café").json
    if os.name == "nt":  # a percent-encoded file: URI there (Codex App cannot show C:/… targets)
        assert result["markdown_image"] == f"![café]({Path(result['image_path']).as_uri()})" and "%20%28v2%29" in result["markdown_image"]
    else:
        assert result["markdown_image"] == f"![café](<{result['image_path']}>)"


@pytest.mark.parametrize("args, fragment", [
    ([], "No prompt given"),
    (["--size", "big", "x"], "Size"),
    (["--size", "8x8", "x"], "out of range"),
    (["--n", "11", "x"], "n is 11"),
    (["--partial-images", "4", "x"], "partial images"),
    (["--output-compression", "101", "x"], "output compression"),
    (["--quality", "ultra", "x"], "nvalid choice"),
    (["--image", "missing.png", "x"], "does not exist"),
    (["--output-name", "../escape", "x"], "inside the output directory"),
    (["--background", "transparent", "--output-format", "jpeg", "x"], "transparent"),
    (["--bogus-flag", "x"], "Unrecognized arguments"),
    (["   "], "prompt is empty"),
])
def test_invalid_input_is_exit_2_with_one_sentence_and_nothing_sent(relay_env, emulator, args, fragment):
    before = len(emulator.requests)
    run = run_cli(*args)
    assert run.code == 2, run.stdout
    error = run.json["error"]
    assert run.json["ok"] is False and error["code"] == "invalid_input" and fragment in error["message"]
    assert f"image-relay-generate: error: {error['message']}" in run.stderr
    assert len(emulator.requests) == before


def test_non_image_file_is_never_uploaded(relay_env, emulator, tmp_path):
    secret = tmp_path / "notes.png"
    secret.write_text("my private notes", encoding="utf-8")
    before = len(emulator.requests)
    run = run_cli("--image", str(secret), "edit it")
    assert run.code == 2 and "is not a PNG or JPEG or WEBP image" in run.json["error"]["message"]
    assert len(emulator.requests) == before


def test_mask_must_match_first_image(relay_env, tmp_path):
    (tmp_path / "a.png").write_bytes(png(8, 8))
    (tmp_path / "m.png").write_bytes(png(4, 4, alpha=True))
    run = run_cli("--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "x")
    assert run.code == 2 and "same size" in run.json["error"]["message"]


@pytest.mark.parametrize("missing", ["IMAGE_RELAY_BASE_URL", "IMAGE_RELAY_API_KEY", "IMAGE_RELAY_TEXT_MODEL"])
def test_missing_configuration_is_exit_3_naming_variable_and_config_file(relay_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    run = run_cli("x")
    assert run.code == 3
    message = run.json["error"]["message"]
    assert missing in message and str(user_config_file()) in message


def test_images_mode_needs_image_model(relay_env, monkeypatch):
    monkeypatch.delenv("IMAGE_RELAY_IMAGE_MODEL")
    run = run_cli("--api-mode", "images", "x")
    assert run.code == 3 and "IMAGE_RELAY_IMAGE_MODEL" in run.json["error"]["message"]


def test_unwritable_output_dir_is_exit_8(relay_env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir", encoding="utf-8")
    run = run_cli("--output-dir", str(blocker / "sub"), "x")
    assert run.code == 8 and run.json["error"]["code"] == "storage_error"


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "bridge", "--version"], capture_output=True, text=True, encoding="utf-8", cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "image-relay-generate 0.1.0"
    proc = subprocess.run([sys.executable, "-m", "bridge", "--help"], capture_output=True, text=True, encoding="utf-8", cwd=ROOT)
    for option in ("--api-mode", "--request-policy", "--image", "--mask", "--size", "--quality", "--output-format",
                   "--background", "--output-compression", "--partial-images", "--n", "--moderation",
                   "--input-fidelity", "--model", "--text-model", "--negative-prompt", "--seed", "--template",
                   "--no-template", "--output-dir", "--output-name", "--no-open", "--quiet", "--timeout",
                   "--env-file", "--emulator", "--version"):
        assert option in proc.stdout


def test_emulator_flag_needs_no_configuration_and_no_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    proc = subprocess.run([sys.executable, "-m", "bridge", "--emulator", "--no-open", "--size", "1024x640",
                           "a first image"], capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert Path(result["image_path"]).is_file() and result["actual_size"] == "1024x640"
    assert proc.stdout.count("\n") == 1 and "[progress]" in proc.stderr


def test_cli_path_never_imports_mcp():
    code = "import sys, bridge.cli; sys.exit(1 if any(m == 'mcp' or m.startswith('mcp.') for m in sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_fallback_script_runs_from_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_RELAY_")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "--emulator", "--no-open", "--quiet",
                           "--model", "gpt-image-emulator", "--size", "32x32", "x"], capture_output=True, text=True, encoding="utf-8", cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


def test_fallback_script_names_a_missing_dependency(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "requests.py").write_text("raise ModuleNotFoundError(\"No module named 'requests'\", name='requests')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "x"], capture_output=True, text=True, encoding="utf-8",
                          cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 3
    assert "'requests' is missing" in proc.stderr and "pip install" in proc.stderr
    assert json.loads(proc.stdout)["error"]["code"] == "missing_dependency"


def test_file_names_are_display_safe_by_default(relay_env):
    run = run_cli("--no-open", "一只在月光下的猫 🦊")
    name = Path(run.json["image_path"]).name
    assert run.code == 0 and "-yi-zhi-zai-yue-guang-xia-de-mao-fox-" in name and Path(run.json["image_path"]).is_file()
    accented = Path(run_cli("--no-open", "Café: crème / brûlée?").json["image_path"]).name
    assert "-cafe-creme-brulee-" in accented
    for path in (name, accented):
        assert path.isascii() and " " not in path


def test_file_names_keep_letters_of_any_script_on_request(relay_env, monkeypatch):
    import unicodedata
    monkeypatch.setenv("IMAGE_RELAY_ASCII_FILE_NAMES", "false")
    run = run_cli("--no-open", "一只在月光下的猫")
    name = Path(run.json["image_path"]).name
    assert run.code == 0 and "-一只在月光下的猫-" in name and unicodedata.is_normalized("NFC", name)
    assert Path(run.json["image_path"]).is_file()
    accented = run_cli("--no-open", "Café: crème / brûlée?")
    assert "-café-crème-brûlée-" in Path(accented.json["image_path"]).name

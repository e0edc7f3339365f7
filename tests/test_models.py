"""Per-model rules: the table, the bridge refusing before anything is sent, the emulator refusing the same."""
from __future__ import annotations

import io
import uuid

import pytest
import requests

from bridge.relay.models import rule_for, size_problem, sizes_text
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY

AUTH = {"Authorization": f"Bearer {SENTINEL_KEY}"}


@pytest.mark.parametrize("name, known", [
    ("gpt-image-2", "gpt-image-2"), ("gpt-image-2-2026-04-21", "gpt-image-2"), ("openai/gpt-image-2", "gpt-image-2"),
    ("azure/openai/GPT-Image-1-mini", "gpt-image-1-mini"), ("gpt-image-1.5", "gpt-image-1.5"),
    ("gpt-image-1", "gpt-image-1"), (" gpt-image-1-2025-04-15 ", "gpt-image-1"),
    # relay aliases and other models keep rules of their own
    ("gpt-image-2-all", None), ("gpt-image-2-codex", None), ("「CS」gpt-image-2", None),
    ("chatgpt-image-latest", None), ("gpt-image-2.5-flare", None), ("my-azure-deployment", None), ("", None),
])
def test_names_match_exactly_after_vendor_prefix_and_snapshot(name, known):
    rule = rule_for(name)
    assert (rule.name if rule else None) == known


@pytest.mark.parametrize("model, size, why, nearest", [
    ("gpt-image-1", "2560x1440", "it takes only 1024x1024, 1536x1024, 1024x1536 or auto", ["1536x1024", "1024x1024"]),
    ("gpt-image-1.5", "1024x1536", None, None),
    ("gpt-image-1-mini", "512x512", "it takes only", ["1024x1024"]),
    ("gpt-image-2", "2560x1440", None, None),
    ("gpt-image-2", "3840x2160", None, None),
    ("gpt-image-2", "1152x2048", None, None),
    ("gpt-image-2", "1000x1000", "multiples of 16", ["992x992", "1008x1008"]),
    ("gpt-image-2", "4096x2160", "long side can be at most 3840", None),
    ("gpt-image-2", "3840x3840", "655,360 to 8,294,400 pixels", ["2880x2880"]),
    ("gpt-image-2", "512x512", "655,360 to 8,294,400 pixels", None),
    ("gpt-image-2", "3072x960", "aspect ratio must be between 1:3 and 3:1", None),
])
def test_size_rules_and_nearest_sizes(model, size, why, nearest):
    problem = size_problem(model, size)
    if why is None:
        assert problem is None
        return
    assert why in problem[0]
    if nearest:
        assert problem[1][:len(nearest)] == nearest
    for valid in problem[1]:  # every size offered instead is one the model takes
        assert size_problem(model, valid) is None


def test_unknown_models_are_never_checked():
    assert size_problem("gpt-image-2-all", "7x7") is None and size_problem(None, "7x7") is None
    assert "not one the bridge knows" in sizes_text("gpt-image-2-codex")


def test_gpt_image_2_at_2560x1440_works_and_gpt_image_1_is_refused_before_sending(relay_env, emulator):
    marker = uuid.uuid4().hex
    run = run_cli("--model", "gpt-image-2", "--size", "2560x1440", f"wide harbour {marker}")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "2560x1440" and run.json["warnings"] == []
    sent = [r for r in emulator.requests if marker.encode() in r.body]
    assert len(sent) == 1 and sent[0].json["tools"][0]["size"] == "2560x1440"

    marker = uuid.uuid4().hex
    run = run_cli("--model", "gpt-image-1", "--size", "2560x1440", f"wide harbour {marker}")
    assert run.code == 2 and run.json["error"]["code"] == "invalid_input"
    message = run.json["error"]["message"]
    assert message == ("Size 2560x1440 is not available for gpt-image-1: it takes only 1024x1024, 1536x1024, "
                       "1024x1536 or auto. Nearest: 1536x1024, 1024x1024.")
    assert not [r for r in emulator.requests if marker.encode() in r.body]  # nothing was sent
    assert "raw_log_path" not in run.json


def test_the_configured_default_size_is_named_when_it_is_the_one_refused(relay_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "openai/gpt-image-1.5")
    run = run_cli("a default-sized cat")  # relay_env's default size is 64x48
    assert run.code == 2
    assert run.json["error"]["message"].startswith(
        "Size 64x48 (IMAGE_RELAY_DEFAULT_SIZE) is not available for openai/gpt-image-1.5")
    assert "Nearest: 1536x1024, 1024x1024." in run.json["error"]["message"]


def test_experimental_sizes_get_a_warning(relay_env, emulator):
    run = run_cli("--model", "gpt-image-2", "--size", "2048x2048", "--quality", "low", "a very large map")
    assert run.code == 0, run.stdout
    assert run.json["actual_size"] == "2048x2048"
    assert any("more pixels than 2560x1440" in w and "experimental" in w for w in run.json["warnings"])
    assert size_problem("gpt-image-2", "2880x1152") is None  # fewer pixels than 2560x1440: not experimental
    assert run_cli("--model", "gpt-image-2", "--size", "2880x1152", "--quality", "low", "a valley").json[
        "warnings"] == []


def test_parameters_a_model_does_not_take_are_refused_before_sending(relay_env, emulator, tmp_path):
    from tests.images import png
    source = tmp_path / "source.png"
    source.write_bytes(png(1024, 1024))
    marker = uuid.uuid4().hex
    run = run_cli("--model", "gpt-image-1-mini", "--image", str(source), "--input-fidelity", "high", "--size", "auto",
                  f"edit {marker}")
    assert run.code == 2 and "gpt-image-1-mini does not take input_fidelity" in run.json["error"]["message"]
    run = run_cli("--model", "gpt-image-2", "--background", "transparent", "--size", "auto", f"logo {marker}")
    assert run.code == 2 and "gpt-image-2 does not take background=transparent" in run.json["error"]["message"]
    assert not [r for r in emulator.requests if marker.encode() in r.body]
    run = run_cli("--model", "gpt-image-1.5", "--image", str(source), "--input-fidelity", "high", "--size", "auto",
                  "--api-mode", "images", f"edit {marker}")
    assert run.code == 0, run.stdout
    sent = [r for r in emulator.requests if marker.encode() in r.body]
    assert len(sent) == 1 and sent[0].form["input_fidelity"] == "high"


@pytest.mark.parametrize("path, body, param, code", [
    ("/images/generations", {"model": "gpt-image-1", "prompt": "x", "size": "2560x1440"}, "size", "invalid_value"),
    ("/images/generations", {"model": "openai/gpt-image-2", "prompt": "x", "size": "1000x1000"}, "size",
     "invalid_value"),
    ("/images/generations", {"model": "gpt-image-2", "prompt": "x", "size": "auto", "background": "transparent"},
     "background", "invalid_value"),
    ("/responses", {"model": "gpt-5", "input": "x", "tools": [{"type": "image_generation", "model": "gpt-image-2",
                                                              "size": "auto", "input_fidelity": "high"}]},
     "input_fidelity", "invalid_input_fidelity_model"),
])
def test_the_emulator_refuses_what_the_models_refuse(emulator, path, body, param, code):
    r = requests.post(emulator.base_url + path, json=body, headers=AUTH, timeout=10)
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_the_emulator_draws_gpt_image_2_sizes_and_its_own_model_draws_anything(emulator):
    r = requests.post(emulator.base_url + "/images/generations", headers=AUTH, timeout=30,
                      json={"model": "gpt-image-2-2026-04-21", "prompt": "x", "size": "1152x2048", "quality": "low"})
    assert r.status_code == 200 and r.json()["size"] == "1152x2048"
    r = requests.post(emulator.base_url + "/images/generations", headers=AUTH, timeout=10,
                      json={"model": "gpt-image-emulator", "prompt": "x", "size": "40x24"})
    assert r.status_code == 200 and r.json()["size"] == "40x24"


def test_help_names_the_configured_models_sizes(monkeypatch):
    from bridge.cli import main
    for argv, expected in ((["--model", "gpt-image-2", "--help"], "2560x1440"),
                           (["--emulator", "--help"], "3840x2160"),
                           (["--model", "gpt-image-1", "--help"], "1024x1536 or auto")):
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        with pytest.raises(SystemExit):
            main(argv, stdout=out)
        text = " ".join(out.getvalue().split())
        assert expected in text, text
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-1.5")
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    with pytest.raises(SystemExit):
        main(["--help"], stdout=out)
    assert "image model gpt-image-1.5: 1024x1024, 1536x1024, 1024x1536 or auto" in " ".join(out.getvalue().split())



@pytest.mark.anyio
async def test_the_tool_names_the_configured_models_sizes_and_refuses_others(relay_env, monkeypatch, tmp_path):
    from mcp import Client

    import bridge.server.app as app
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    monkeypatch.setattr(app, "_JOBS", [])
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-2")
    async with Client(app.server) as client:
        description = (await client.list_tools()).tools[0].description
        assert "Sizes for the configured image model gpt-image-2: any WIDTHxHEIGHT" in description
        assert all(size in description for size in ("2048x1152", "2560x1440", "3840x2160", "1152x2048"))
        monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-1")
        description = (await client.list_tools()).tools[0].description
        assert "gpt-image-1: 1024x1024, 1536x1024, 1024x1536 or auto." in description
        result = await client.call_tool("generate_image", {"prompt": "a wide harbour", "size": "2560x1440"})
    text = result.content[0].text
    assert result.is_error and text.startswith("Image generation failed (invalid_input): Size 2560x1440 is not "
                                               "available for gpt-image-1")
    assert "Nearest: 1536x1024, 1024x1024." in text and "nothing was sent" in text


def test_the_doctor_names_a_default_size_the_model_cannot_take(relay_env, monkeypatch):
    import json as json_
    from bridge.doctor import main
    monkeypatch.setenv("IMAGE_RELAY_IMAGE_MODEL", "gpt-image-1.5")
    out = io.StringIO()
    assert main(["--json"], stdout=out) == 1
    verdict = json_.loads(out.getvalue())["verdict"]
    assert verdict.startswith("IMAGE_RELAY_DEFAULT_SIZE=64x48 is not a size gpt-image-1.5 takes")
    assert "set auto or one of 1536x1024, 1024x1024" in verdict
    monkeypatch.setenv("IMAGE_RELAY_DEFAULT_SIZE", "1536x1024")
    out = io.StringIO()
    assert main(["--json"], stdout=out) == 0

"""image-relay-setup --register: each client's own command, or opencode's config file, and one
sentence when a client is missing. Check-clients registers with the real programs."""
from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from bridge.clients import opencode
from bridge.clients.register import CLIENTS, register
from bridge.paths import user_config_file
from bridge.setup import main

# The stand-in clients are scripts with a shebang, which only POSIX runs as commands.
STAND_IN = pytest.mark.skipif(os.name == "nt", reason="POSIX only: stand-in client commands are shebang scripts")


def run_setup(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=io.StringIO(""), stdout=out, stderr=err, ask=lambda prompt: "n",
                ask_secret=lambda prompt: "")
    return code, out.getvalue(), err.getvalue()


def user_config() -> Path:
    path = user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("IMAGE_RELAY_BASE_URL=http://127.0.0.1:9/v1\nIMAGE_RELAY_API_KEY=sk-file\n", encoding="utf-8")
    return path


def program(tmp_path: Path, name: str, script: str) -> Path:
    """A stand-in for a client's command line on the PATH, recording its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(tmp_path / (name + '.calls'))!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                    + script, encoding="utf-8")
    path.chmod(0o755)
    return bin_dir


def calls(tmp_path: Path, name: str) -> list[list[str]]:
    path = tmp_path / f"{name}.calls"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_every_client_gets_the_600_s_limit_and_the_wait_below_it():
    for name in ("gemini", "qwen", "copilot"):
        add = CLIENTS[name].add
        assert add[add.index("--timeout") + 1] == "600000"
        assert add[-3:] == ["image-relay-mcp", "--wait-default", "540"]
    for name in ("gemini", "qwen"):  # Gemini CLI filters variables named *KEY*; Qwen Code is its fork
        assert "IMAGE_RELAY_API_KEY=$IMAGE_RELAY_API_KEY" in CLIENTS[name].add
    assert CLIENTS["gemini"].add[3:5] == ["--scope", "user"]  # gemini's default scope is the project


@STAND_IN
def test_register_alone_keeps_the_config_file_and_runs_the_clients_command(tmp_path, monkeypatch):
    config = user_config()
    before = config.read_text(encoding="utf-8")
    monkeypatch.setenv("PATH", str(program(tmp_path, "gemini", "print('MCP server added')\n")))
    code, out, err = run_setup("--register", "gemini")
    assert code == 0, err
    assert config.read_text(encoding="utf-8") == before
    assert calls(tmp_path, "gemini") == [CLIENTS["gemini"].add[1:]]
    assert "Registered image-relay-bridge with Gemini CLI in ~/.gemini/settings.json: gemini mcp add" in out
    assert "'IMAGE_RELAY_API_KEY=$IMAGE_RELAY_API_KEY'" in out


@STAND_IN
def test_copilot_replaces_an_entry_it_refuses_to_overwrite(tmp_path, monkeypatch):
    user_config()
    script = ("import os\nmarker = " + repr(str(tmp_path / "removed")) + "\n"
              "if sys.argv[2] == 'remove': open(marker, 'w').close(); sys.exit(0)\n"
              "if not os.path.exists(marker):\n"
              "    print('Error: Server \"image-relay-bridge\" already exists.', file=sys.stderr); sys.exit(1)\n")
    monkeypatch.setenv("PATH", str(program(tmp_path, "copilot", script)))
    code, out, err = run_setup("--register", "copilot")
    assert code == 0, err
    assert [c[:2] for c in calls(tmp_path, "copilot")] == [["mcp", "add"], ["mcp", "remove"], ["mcp", "add"]]


@STAND_IN
def test_a_client_that_fails_gets_one_sentence_with_the_command(tmp_path, monkeypatch):
    user_config()
    monkeypatch.setenv("PATH", str(program(tmp_path, "qwen", "print('boom', file=sys.stderr); sys.exit(3)\n")))
    code, out, err = run_setup("--register", "qwen")
    assert code == 1
    assert err.count("\n") == 1 and "qwen did not register the server (exit 3): boom. Run it yourself: qwen mcp add" in err


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_a_client_that_is_not_installed_gets_one_sentence(name, tmp_path, monkeypatch):
    user_config()
    monkeypatch.setenv("PATH", str(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    assert register(name, out, err) is False
    assert out.getvalue() == "" and err.getvalue().count("\n") == 1
    assert f"{CLIENTS[name].title} is not installed" in err.getvalue()
    assert f"image-relay-setup --register {name}" in err.getvalue()


@STAND_IN
def test_opencode_gets_its_entry_and_keeps_the_rest(tmp_path, monkeypatch):
    user_config()
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "opencode"
    folder.mkdir(parents=True)
    mine = {"theme": "dark", "mcp": {"other": {"type": "remote", "url": "https://x.example/mcp"}},
            "provider": {"p": {"npm": "@ai-sdk/openai-compatible"}}}
    (folder / "opencode.json").write_text(json.dumps(mine), encoding="utf-8")
    monkeypatch.setenv("PATH", str(program(tmp_path, "opencode", "")))
    code, out, err = run_setup("--register", "opencode")
    assert code == 0, err
    written = json.loads((folder / "opencode.json").read_text(encoding="utf-8"))
    assert written["mcp"].pop("image-relay-bridge") == {
        "type": "local", "command": ["image-relay-mcp", "--wait-default", "540"], "enabled": True, "timeout": 600000}
    assert written == mine
    assert "Registered image-relay-bridge with opencode in" in out and "added" in out
    code, out, err = run_setup("--register", "opencode")
    assert code == 0 and "was already" in out


def test_opencode_creates_its_file_when_there_is_none(tmp_path):
    result = opencode.register("s", ["c"], 1000, {"XDG_CONFIG_HOME": str(tmp_path)})
    written = json.loads((tmp_path / "opencode" / "opencode.json").read_text(encoding="utf-8"))
    assert result.error == "" and written["mcp"]["s"]["command"] == ["c"] and "$schema" in written


@pytest.mark.parametrize("name, text", [("opencode.jsonc", "{ // mine\n}"), ("opencode.json", "{ // mine\n}"),
                                        ("opencode.json", "[1]")])
def test_opencode_files_it_cannot_rewrite_are_left_alone(tmp_path, name, text):
    (tmp_path / "opencode").mkdir()
    (tmp_path / "opencode" / name).write_text(text, encoding="utf-8")
    result = opencode.register("s", ["c"], 1000, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert "left alone; add this to it: " in result.error and '"mcp"' in result.error
    assert (tmp_path / "opencode" / name).read_text(encoding="utf-8") == text
    assert sorted(p.name for p in (tmp_path / "opencode").iterdir()) == [name]

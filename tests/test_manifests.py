"""The plugin manifests, the MCP definition and the skill agree with pyproject.toml and each other."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NAME = PROJECT["name"]

PLUGIN_MANIFESTS = ["plugin.json", ".claude-plugin/plugin.json", ".codex-plugin/plugin.json"]
MARKETPLACES = [".claude-plugin/marketplace.json", ".agents/plugins/marketplace.json"]
EXTENSIONS = ["gemini-extension.json", "qwen-extension.json"]  # Gemini CLI, Qwen Code
MCP_FILES = {"plugin.json": ".mcp.json", ".claude-plugin/plugin.json": ".mcp.json",
             ".codex-plugin/plugin.json": ".codex-plugin/mcp.json"}  # Codex expands no ${CLAUDE_PLUGIN_ROOT}
MANIFESTS = [*PLUGIN_MANIFESTS, *MARKETPLACES, *sorted(set(MCP_FILES.values())), *EXTENSIONS]

# A root plugin.json with this schema replaces .codex-plugin/plugin.json in Codex.
AGENT_PLUGINS_SCHEMA = "agent-plugins.org"
MIN_TOOL_TIMEOUT_SECONDS = 180  # a slow generation takes three minutes

# Agent Skills frontmatter rules (as anthropics/skills quick_validate.py enforces them).
SKILL_KEYS = {"name", "description", "license", "allowed-tools", "metadata", "compatibility"}
SKILL_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CODEX_BUILTIN_SKILL = "imagegen"


def load(relative: str) -> Any:
    return json.loads((ROOT / relative).read_text(encoding="utf-8"))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def mcp_entry(relative: str = ".mcp.json") -> dict[str, Any]:
    """The server entry Claude Code (.mcp.json) or Codex (.codex-plugin/mcp.json) starts."""
    servers = load(relative)["mcpServers"]
    assert list(servers) == [NAME]
    return servers[NAME]


def parse_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """Split a SKILL.md into its frontmatter and body.

    Reads the subset of YAML that skill frontmatter uses: `key: value` lines, quoted or plain
    scalars, and one level of indented `key: value` lines under a key with no value.
    """
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.DOTALL)
    assert match, "SKILL.md must start with a frontmatter block delimited by --- lines"
    fields: dict[str, Any] = {}
    parent: dict[str, str] | None = None
    for line in match.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        nested = line.startswith((" ", "\t"))
        key, colon, value = line.strip().partition(":")
        assert colon and key, f"frontmatter line is not `key: value`: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if nested:
            assert parent is not None, f"indented line outside a mapping: {line!r}"
            parent[key] = value
        elif value:
            fields[key], parent = value, None
        else:
            fields[key] = parent = {}
    return fields, match.group(2)


@pytest.mark.parametrize("relative", MANIFESTS)
def test_manifest_is_a_json_object(relative: str) -> None:
    assert isinstance(load(relative), dict)


@pytest.mark.parametrize("relative", PLUGIN_MANIFESTS)
def test_plugin_manifest_matches_pyproject(relative: str) -> None:
    manifest = load(relative)
    assert manifest["name"] == NAME
    assert manifest["version"] == PROJECT["version"]
    assert manifest["description"] == PROJECT["description"]


@pytest.mark.parametrize("relative", PLUGIN_MANIFESTS)
def test_plugin_manifest_points_at_the_one_mcp_file_and_skills(relative: str) -> None:
    manifest = load(relative)
    assert manifest["mcpServers"] == "./" + MCP_FILES[relative]
    assert manifest["skills"] == "./skills/"


def test_claude_marketplace_lists_this_repository_as_the_plugin() -> None:
    marketplace = load(".claude-plugin/marketplace.json")
    assert marketplace["name"] == NAME
    assert marketplace["owner"]["name"]
    assert marketplace["description"] == PROJECT["description"]
    [entry] = marketplace["plugins"]
    assert entry["name"] == NAME
    assert entry["source"] == "./"
    assert entry["version"] == PROJECT["version"]
    assert entry["description"] == PROJECT["description"]


def test_codex_marketplace_lists_this_repository_as_the_plugin() -> None:
    marketplace = load(".agents/plugins/marketplace.json")
    assert marketplace["name"] == NAME
    [entry] = marketplace["plugins"]
    assert entry["name"] == NAME
    assert entry["source"] == {"source": "local", "path": "./"}


def test_codex_default_prompts_fit_codex_limits() -> None:
    prompts = load(".codex-plugin/plugin.json")["interface"].get("defaultPrompt", [])
    assert len(prompts) <= 3
    assert all(0 < len(prompt) <= 128 for prompt in prompts)


@pytest.mark.parametrize("relative", MANIFESTS)
def test_every_relative_path_exists_inside_the_repository(relative: str) -> None:
    for value in strings(load(relative)):
        if value.startswith("./"):
            assert ".." not in Path(value).parts, f"{relative}: {value} leaves the plugin root"
            assert (ROOT / value).exists(), f"{relative}: {value} does not exist"


def test_root_manifest_does_not_take_over_in_codex() -> None:
    assert AGENT_PLUGINS_SCHEMA not in load("plugin.json").get("$schema", "")


def test_mcp_command_runs_the_plugins_own_launcher_on_every_os() -> None:
    claude, codex = mcp_entry(), mcp_entry(".codex-plugin/mcp.json")
    # Claude Code expands the plugin root; Codex runs a relative command in cwd = the plugin folder.
    # Both look the command up with PATHEXT on Windows (Claude through cross-spawn, Codex through
    # which), so scripts/image-relay-mcp.cmd runs there and scripts/image-relay-mcp elsewhere.
    assert claude["command"] == "${CLAUDE_PLUGIN_ROOT}/scripts/image-relay-mcp"
    assert codex["command"] == "./scripts/image-relay-mcp" and codex["cwd"] == "."
    posix, windows = ROOT / "scripts" / "image-relay-mcp", ROOT / "scripts" / "image-relay-mcp.cmd"
    assert posix.read_text(encoding="utf-8").startswith("#!/bin/sh\n") and "launch_mcp.py" in posix.read_text(encoding="utf-8")
    assert os.name == "nt" or os.access(posix, os.X_OK)
    assert b"\r\n" in windows.read_bytes() and b"launch_mcp.py" in windows.read_bytes()
    assert (ROOT / "scripts" / "launch_mcp.py").is_file()
    # The wait budget stays below both clients' 600 s tool limits.
    assert claude["args"] == codex["args"] == ["--wait-default", "540"]
    assert 540 < claude["timeout"] / 1000 and 540 < codex["tool_timeout_sec"]


def test_the_server_is_required_so_codex_waits_for_it() -> None:
    assert mcp_entry(".codex-plugin/mcp.json")["required"] is True


def test_claude_user_config_reaches_the_launcher() -> None:
    user_config = load(".claude-plugin/plugin.json")["userConfig"]
    assert set(user_config) == {"base_url", "api_key", "text_model", "image_model", "api_mode"}
    assert user_config["api_key"]["sensitive"] is True and not any(v["required"] for v in user_config.values())
    env = mcp_entry()["env"]
    assert env == {f"IMAGE_RELAY_PLUGIN_{key.upper()}": "${user_config.%s}" % key for key in user_config}
    # The only ${...} in the entry: Codex passes them literally, and the launcher ignores those.
    assert [v for v in strings(load(".mcp.json")) if "${" in v] == [mcp_entry()["command"], *env.values()]
    assert not [v for v in strings(load(".codex-plugin/mcp.json")) if "${" in v]


def test_mcp_tool_timeouts_allow_a_three_minute_generation() -> None:
    entry = {**mcp_entry(), **mcp_entry(".codex-plugin/mcp.json")}
    assert entry["timeout"] >= MIN_TOOL_TIMEOUT_SECONDS * 1000  # Claude Code, milliseconds
    assert entry["tool_timeout_sec"] >= MIN_TOOL_TIMEOUT_SECONDS  # Codex, seconds
    assert entry["startup_timeout_sec"] >= 60  # Codex, seconds: a cold start builds the environment


def test_codex_passes_every_variable_the_server_reads() -> None:
    # Codex starts servers with a short allow-list of variables; Claude passes everything.
    from bridge.config import PREFIX, VARIABLES

    forwarded = set(mcp_entry(".codex-plugin/mcp.json")["env_vars"])
    expected = {*VARIABLES, PREFIX + "ENV_FILE", "XDG_CONFIG_HOME", "APPDATA"}
    assert expected <= forwarded, sorted(expected - forwarded)


def skill_dirs() -> list[Path]:
    return sorted(path.parent for path in (ROOT / "skills").glob("*/SKILL.md"))


def test_the_skill_is_packaged() -> None:
    assert [path.name for path in skill_dirs()] == [NAME]


@pytest.mark.parametrize("skill", skill_dirs(), ids=lambda path: path.name)
def test_skill_frontmatter_follows_the_agent_skills_rules(skill: Path) -> None:
    fields, body = parse_frontmatter((skill / "SKILL.md").read_text(encoding="utf-8"))
    assert set(fields) <= SKILL_KEYS, f"unexpected keys: {sorted(set(fields) - SKILL_KEYS)}"
    name, description = fields["name"], fields["description"]
    assert SKILL_NAME.match(name) and len(name) <= 64
    assert name == skill.name
    assert 1 <= len(description) <= 1024
    assert "<" not in description and ">" not in description
    assert body.strip()


@pytest.mark.parametrize("skill", skill_dirs(), ids=lambda path: path.name)
def test_skill_description_is_about_the_relay_not_the_builtin_generator(skill: Path) -> None:
    fields, _ = parse_frontmatter((skill / "SKILL.md").read_text(encoding="utf-8"))
    description = fields["description"]
    assert fields["name"] != CODEX_BUILTIN_SKILL
    assert "relay" in description.lower()
    assert NAME in description
    assert "generate_image" in description
    assert "Use when" in description or "Use whenever" in description


@pytest.mark.parametrize("skill", skill_dirs(), ids=lambda path: path.name)
def test_skill_references_are_linked_and_exist(skill: Path) -> None:
    body = (skill / "SKILL.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((references/[^)]+)\)", body))
    present = {path.relative_to(skill).as_posix() for path in (skill / "references").glob("*.md")}
    assert linked == present


def test_frontmatter_parser_reads_nested_metadata_and_quotes() -> None:
    fields, body = parse_frontmatter(
        "---\nname: x\ndescription: \"a: b\"\nmetadata:\n  short-description: y\n---\nbody\n")
    assert fields == {"name": "x", "description": "a: b", "metadata": {"short-description": "y"}}
    assert body == "body\n"


# -- Gemini CLI and Qwen Code extensions (root manifests) -------------------------------------

@pytest.mark.parametrize("relative", EXTENSIONS)
def test_extension_manifest_matches_pyproject(relative: str) -> None:
    manifest = load(relative)
    assert (manifest["name"], manifest["version"], manifest["description"]) == \
        (NAME, PROJECT["version"], PROJECT["description"])


def test_qwen_reads_the_same_extension_as_gemini() -> None:
    # A root qwen-extension.json also keeps Qwen from converting the Claude plugin (which breaks it).
    assert load("qwen-extension.json") == load("gemini-extension.json")


def extension_entry(relative: str) -> dict[str, Any]:
    servers = load(relative)["mcpServers"]
    assert list(servers) == [NAME] and "_" not in NAME  # Gemini splits tool names on "_"
    return servers[NAME]


@pytest.mark.parametrize("relative", EXTENSIONS)
def test_extension_server_is_the_plugins_launcher(relative: str) -> None:
    entry = extension_entry(relative)
    assert entry["command"] == "python3"
    launcher, *rest = entry["args"]
    # ${extensionPath} and ${/} are the clients' own variables for the installed folder and separator.
    assert launcher == "${extensionPath}${/}scripts${/}launch_mcp.py"
    assert (ROOT / launcher.replace("${extensionPath}${/}", "").replace("${/}", "/")).is_file()
    assert rest[0] == "--wait-default"
    assert "cwd" not in entry  # servers start in the user's project, where relative output folders belong
    # Both clients default to 600 s; stated anyway, with the server's wait below it.
    assert entry["timeout"] == 600_000 and float(rest[1]) < entry["timeout"] / 1000


@pytest.mark.parametrize("relative", EXTENSIONS)
def test_extension_passes_the_key_that_gemini_filters_by_name(relative: str) -> None:
    # Gemini CLI drops inherited variables whose names hold KEY; an unset one may arrive unexpanded,
    # which the server's configuration ignores (tests/test_config.py).
    assert extension_entry(relative)["env"] == {"IMAGE_RELAY_API_KEY": "$IMAGE_RELAY_API_KEY"}


@pytest.mark.parametrize("relative", EXTENSIONS)
def test_extension_context_file_says_to_show_the_tag(relative: str) -> None:
    context = ROOT / load(relative)["contextFileName"]
    text = context.read_text(encoding="utf-8")
    assert len(text) < 2000  # loaded into every session's prompt: keep it short
    assert "generate_image" in text and "markdown image tag" in text and "job_id" in text
    assert "image-relay-setup" in text


def test_extensions_find_the_skill_where_they_look() -> None:
    # Both clients load skills/<name>/SKILL.md from the extension folder.
    assert (ROOT / "skills" / NAME / "SKILL.md").is_file()

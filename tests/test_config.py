from pathlib import Path

import pytest

from bridge.config import load_settings, require, resolve_settings
from bridge.errors import ConfigError, ExitCode, InputError


def test_defaults_apply_when_nothing_is_set():
    settings = resolve_settings([])
    assert settings.api_mode == "responses"
    assert settings.request_policy == "openai"
    assert settings.output_dir == "./outputs"
    assert (settings.size, settings.quality, settings.output_format) == ("auto", "high", "png")
    assert settings.output_compression == 100 and settings.partial_images == 0
    assert settings.prompt_template == "{prompt}"
    assert settings.cli_open_image and settings.show_progress and settings.show_debug_summary
    assert settings.sources["api_mode"] == "default"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_flag_env_envfile_dotenv_userfile(isolated_env, tmp_path):
    home_cfg = tmp_path / "home" / ".config" / "image-relay-bridge" / ".env"
    _write(home_cfg, "IMAGE_RELAY_TEXT_MODEL=user\nIMAGE_RELAY_IMAGE_MODEL=user\nIMAGE_RELAY_API_MODE=images\n"
                     "IMAGE_RELAY_DEFAULT_QUALITY=low\nIMAGE_RELAY_BASE_URL=http://user/v1\n")
    _write(isolated_env / ".env", "IMAGE_RELAY_TEXT_MODEL=dotenv\nIMAGE_RELAY_IMAGE_MODEL=dotenv\n"
                                   "IMAGE_RELAY_API_MODE=auto\n")
    named = _write(tmp_path / "named.env", "IMAGE_RELAY_TEXT_MODEL=named\nIMAGE_RELAY_IMAGE_MODEL=named\n")
    environ = {"IMAGE_RELAY_TEXT_MODEL": "env", "HOME": str(tmp_path / "home"),
               "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config")}
    settings = load_settings({"IMAGE_RELAY_TEXT_MODEL": "flag"}, environ, env_file=str(named), cwd=isolated_env)
    assert settings.text_model == "flag"
    assert settings.image_model == "named"
    assert settings.api_mode == "auto"
    assert settings.quality == "low"
    assert settings.base_url == "http://user/v1"
    assert settings.sources["quality"].startswith("the user config file")
    assert settings.sources["api_mode"] == "./.env"
    without_flag = load_settings({}, environ, env_file=str(named), cwd=isolated_env)
    assert without_flag.text_model == "env"


def test_env_file_from_variable(isolated_env, tmp_path):
    named = _write(tmp_path / "x.env", "IMAGE_RELAY_IMAGE_MODEL=from-var\n")
    settings = load_settings({}, {"IMAGE_RELAY_ENV_FILE": str(named), "HOME": str(tmp_path)}, cwd=isolated_env)
    assert settings.image_model == "from-var"


def test_missing_env_file_is_an_input_error(isolated_env):
    with pytest.raises(InputError):
        load_settings({}, {}, env_file="nope.env", cwd=isolated_env)


def test_empty_value_counts_as_unset():
    settings = resolve_settings([("flag", {"IMAGE_RELAY_API_MODE": ""}), ("env", {"IMAGE_RELAY_API_MODE": "images"})])
    assert settings.api_mode == "images"


def test_only_prefixed_variables_are_read(isolated_env, tmp_path):
    _write(isolated_env / ".env", "OPENAI_API_KEY=sk-generic\nOPENAI_BASE_URL=http://x/v1\n")
    settings = load_settings({}, {"OPENAI_API_KEY": "sk-generic", "HOME": str(tmp_path)}, cwd=isolated_env)
    assert settings.api_key is None and settings.base_url is None


def test_invalid_value_names_variable_and_source():
    with pytest.raises(ConfigError) as info:
        resolve_settings([("the environment", {"IMAGE_RELAY_API_MODE": "midjourney"})])
    assert "IMAGE_RELAY_API_MODE" in info.value.message and "the environment" in info.value.message
    assert info.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize("mode, present, missing", [
    ("responses", {}, "IMAGE_RELAY_BASE_URL"),
    ("responses", {"IMAGE_RELAY_BASE_URL": "http://r/v1"}, "IMAGE_RELAY_API_KEY"),
    ("responses", {"IMAGE_RELAY_BASE_URL": "http://r/v1", "IMAGE_RELAY_API_KEY": "k"}, "IMAGE_RELAY_TEXT_MODEL"),
    ("images", {"IMAGE_RELAY_BASE_URL": "http://r/v1", "IMAGE_RELAY_API_KEY": "k"}, "IMAGE_RELAY_IMAGE_MODEL"),
])
def test_missing_required_setting_names_variable_and_config_file(mode, present, missing):
    settings = resolve_settings([("env", present)], config_file="/home/u/.config/image-relay-bridge/.env")
    with pytest.raises(ConfigError) as info:
        require(settings, mode)
    assert missing in info.value.message
    assert "/home/u/.config/image-relay-bridge/.env" in info.value.message
    assert info.value.exit_code == 3


def test_template_must_contain_placeholder():
    with pytest.raises(ConfigError):
        resolve_settings([("env", {"IMAGE_RELAY_DEFAULT_PROMPT_TEMPLATE": "no placeholder"})])


def test_env_example_documents_every_variable():
    from bridge.config import VARIABLES
    text = (Path(__file__).parent.parent / ".env.example").read_text(encoding="utf-8")
    for name in VARIABLES:
        assert f"{name}=" in text, name
    template = [line for line in text.splitlines() if line.startswith("IMAGE_RELAY_DEFAULT_PROMPT_TEMPLATE=")][0]
    assert "{prompt}" in template and "landscape" in template and "portrait" in template


def test_a_launchers_fallback_ranks_just_above_the_defaults(tmp_path, monkeypatch):
    from bridge.config import load_settings
    fallback = {"IMAGE_RELAY_MCP_WAIT_SECONDS": "540"}
    assert load_settings({}, {}, cwd=tmp_path, fallback=fallback).mcp_wait_seconds == 540
    assert load_settings({}, {}, cwd=tmp_path).mcp_wait_seconds == 50
    (tmp_path / ".env").write_text("IMAGE_RELAY_MCP_WAIT_SECONDS=30\n", encoding="utf-8")
    assert load_settings({}, {}, cwd=tmp_path, fallback=fallback).mcp_wait_seconds == 30
    assert load_settings({}, {"IMAGE_RELAY_MCP_WAIT_SECONDS": "7"}, cwd=tmp_path, fallback=fallback).mcp_wait_seconds == 7


@pytest.mark.parametrize("unexpanded", ["$IMAGE_RELAY_API_KEY", "${IMAGE_RELAY_API_KEY}", " $OTHER "])
def test_an_unexpanded_reference_from_a_client_manifest_counts_as_unset(isolated_env, tmp_path, unexpanded):
    # Gemini CLI and Qwen Code extensions pass "$IMAGE_RELAY_API_KEY" explicitly; unset, it may arrive as is.
    _write(tmp_path / "home" / ".config" / "image-relay-bridge" / ".env", "IMAGE_RELAY_API_KEY=from-the-file\n")
    environ = {"HOME": str(tmp_path / "home"), "IMAGE_RELAY_API_KEY": unexpanded}
    settings = load_settings({}, environ, cwd=isolated_env)
    assert settings.api_key == "from-the-file"
    assert settings.sources["api_key"].startswith("the user config file")


def test_a_key_that_merely_holds_a_dollar_is_kept(isolated_env, tmp_path):
    environ = {"HOME": str(tmp_path), "IMAGE_RELAY_API_KEY": "sk-$abc-123"}
    assert load_settings({}, environ, cwd=isolated_env).api_key == "sk-$abc-123"


def test_a_missing_key_points_at_the_setup_first_and_the_environment_only_when_absent():
    settings = resolve_settings([("env", {"IMAGE_RELAY_BASE_URL": "http://r/v1"})],
                                config_file="/home/u/.config/image-relay-bridge/.env")
    with pytest.raises(ConfigError) as absent:
        require(settings, "images", environ={})
    message = absent.value.message
    assert message.startswith("The relay's API key is not set: run image-relay-setup in a terminal, or add "
                              "IMAGE_RELAY_API_KEY=… to the user config file /home/u/.config/image-relay-bridge/.env")
    assert "set IMAGE_RELAY_API_KEY in the environment" in message
    with pytest.raises(ConfigError) as unexpanded:  # a client's manifest passed "$IMAGE_RELAY_API_KEY" unset
        require(settings, "images", environ={"IMAGE_RELAY_API_KEY": "$IMAGE_RELAY_API_KEY"})
    assert "set IMAGE_RELAY_API_KEY in the environment" in unexpanded.value.message
    # The client passed it, but empty (or unexpanded): the environment is not where the fix is.
    with pytest.raises(ConfigError) as passed_empty:
        require(settings, "images", environ={"IMAGE_RELAY_API_KEY": ""})
    assert "environment" not in passed_empty.value.message and "image-relay-setup" in passed_empty.value.message

"""image-relay-setup against the emulator: validation first, then an atomic 0600 write."""
from __future__ import annotations

import io
import os
import stat
import uuid
from pathlib import Path

from bridge.paths import user_config_file
from bridge.setup import main
from tests.conftest import SENTINEL_KEY


def setup(*args: str, stdin: str = "", answers: list[str] | None = None, secret: str = ""):
    out, err = io.StringIO(), io.StringIO()
    replies = iter(answers or [])
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err, ask=lambda prompt: next(replies),
                ask_secret=lambda prompt: secret)
    return code, out.getvalue(), err.getvalue()


def config() -> Path:
    return user_config_file()


def test_non_interactive_setup_checks_then_writes_0600(emulator):
    code, out, err = setup("--non-interactive", "--base-url", emulator.url(tag=uuid.uuid4().hex[:8]),
                           "--api-key-stdin", "--text-model", "gpt-5", "--image-model", "gpt-image-1.5",
                           stdin=SENTINEL_KEY + "\n")
    assert code == 0, err
    text = config().read_text(encoding="utf-8")
    assert f"IMAGE_RELAY_API_KEY={SENTINEL_KEY}" in text and "IMAGE_RELAY_API_MODE=responses" in text
    assert os.name == "nt" or stat.S_IMODE(config().stat().st_mode) == 0o600  # Windows has no POSIX modes
    assert SENTINEL_KEY not in out + err and "claude mcp add-json" in out and "codex mcp add" in out
    from bridge.config import load_settings
    settings = load_settings({})  # the environment the fixture cleaned, as a user has it
    assert settings.api_key == SENTINEL_KEY and settings.image_model == "gpt-image-1.5"


def test_interactive_setup_offers_the_relays_models(emulator):
    code, out, err = setup("--base-url", emulator.url(tag=uuid.uuid4().hex[:8]), answers=["", "gpt-image-1"],
                           secret="sk-typed-1234")
    assert code == 0, err
    assert "The relay offers these image models: gemini-2.5-flash-image, gemini-3-pro-image" in out
    assert "gpt-image-1, gpt-image-1-mini, gpt-image-1.5" in out
    text = config().read_text(encoding="utf-8")
    assert "IMAGE_RELAY_IMAGE_MODEL=gpt-image-1" in text and "IMAGE_RELAY_TEXT_MODEL=gpt-5" in text
    assert "sk-typed-1234" not in out + err


def test_bad_setups_get_one_sentence_and_leave_the_file_alone(emulator):
    config().parent.mkdir(parents=True, exist_ok=True)
    config().write_text("IMAGE_RELAY_BASE_URL=https://old.example/v1\n", encoding="utf-8")
    before = config().read_bytes()
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    cases = [
        (["--base-url", f"http://127.0.0.1:{dead}/v1"], "cannot be reached"),
        (["--base-url", emulator.url(fault="http-401", tag=uuid.uuid4().hex[:8])], "refused the API key"),
        (["--base-url", emulator.base_url, "--image-model", "gpt-image-typo", "--force"], "nearest: "),
        (["--base-url", "relay.example/v1"], "must start with http"),
        (["--base-url", emulator.base_url, "--text-model", "gpt-5"], "exists; pass --force"),
    ]
    for args, words in cases:
        code, out, err = setup("--non-interactive", "--api-key-stdin", *args, stdin=SENTINEL_KEY + "\n")
        assert code == 1 and words in err and len(err.strip().splitlines()) == 1, (args, err)
        assert SENTINEL_KEY not in out + err
        assert config().read_bytes() == before


def test_force_keeps_a_backup(emulator):
    config().parent.mkdir(parents=True, exist_ok=True)
    config().write_text("IMAGE_RELAY_BASE_URL=https://old.example/v1\n", encoding="utf-8")
    code, out, _ = setup("--non-interactive", "--force", "--base-url", emulator.base_url, "--api-key-stdin",
                         "--text-model", "gpt-5", stdin="sk-new-0000\n")
    assert code == 0
    backups = list(config().parent.glob(".env.backup-*"))
    assert len(backups) == 1 and "old.example" in backups[0].read_text(encoding="utf-8")
    assert (os.name == "nt" or stat.S_IMODE(backups[0].stat().st_mode) == 0o600) and "sk-new-0000" in config().read_text(encoding="utf-8")


def test_interactive_declining_writes_nothing(emulator):
    config().parent.mkdir(parents=True, exist_ok=True)
    config().write_text("IMAGE_RELAY_BASE_URL=https://old.example/v1\n", encoding="utf-8")
    code, _, err = setup("--base-url", emulator.base_url, "--text-model", "gpt-5", "--image-model", "gpt-image-1.5",
                         answers=["n"], secret="sk-typed-1234")
    assert code == 1 and "Nothing was written" in err and "old.example" in config().read_text(encoding="utf-8")


def test_a_gemini_image_model_is_set_up_in_the_mode_its_relay_serves(emulator):
    for options, mode in (({}, "gemini"), ({"fault": "no-gemini-route"}, "chat")):
        base = emulator.url(**options, tag=uuid.uuid4().hex[:8])
        code, out, err = setup("--non-interactive", "--force", "--base-url", base, "--api-key-stdin",
                               "--image-model", "gemini-3-pro-image", stdin=SENTINEL_KEY + "\n")
        assert code == 0, err
        assert f"IMAGE_RELAY_API_MODE={mode}" in config().read_text(encoding="utf-8") and f"in {mode} mode" in out


def test_every_api_mode_can_be_chosen(emulator):
    code, out, err = setup("--non-interactive", "--base-url", emulator.url(tag=uuid.uuid4().hex[:8]), "--api-key-stdin",
                           "--image-model", "gpt-image-1.5", "--api-mode", "chat", stdin=SENTINEL_KEY + "\n")
    assert code == 0, err
    assert "IMAGE_RELAY_API_MODE=chat" in config().read_text(encoding="utf-8")

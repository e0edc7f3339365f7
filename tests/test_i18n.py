"""What a person reads speaks their language; what the model reads stays English.

The catalogue is checked against the source (every message has Chinese, its values survive),
the language is chosen as documented, and the faces people type into speak Chinese under a
Chinese locale: setup, doctor, the CLI's progress and error lines. The CLI's JSON does not.
"""
from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bridge.i18n import choice, translate
from tests.clirun import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def messages():
    spec = importlib.util.spec_from_file_location("checks_messages", ROOT / "checks" / "messages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def chinese(monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_LANG", "zh-CN")


def test_every_message_in_the_source_has_chinese(messages):
    found = messages.extract()
    _, entries = messages.read_po()
    translated = {e.msgid for e in entries if e.msgstr}
    missing = [f"{found[m][0]}: {m!r}" for m in found if m not in translated]
    assert len(found) > 200
    assert not missing, ("messages without Chinese; run `python checks/messages.py update`, fill in msgstr, then "
                         "`python checks/messages.py compile` (docs/development.md):\n" + "\n".join(missing))


def test_a_new_message_anywhere_is_found(messages, tmp_path):
    source = tmp_path / "new.py"
    source.write_text(
        "from .errors import RelayFailure\n"
        "class GatewayGone(RelayFailure):\n    pass\n"
        "def f(name, seconds):\n"
        "    note = f'Waited {seconds:.0f} s for {name}.'\n"
        "    self.reporter.emit('waiting', note)\n"
        "    raise GatewayGone(f'The gateway {name} is gone' + (' for good.' if seconds else '.'))\n"
        "def g(error):\n    error.message += ' Try the Images API.'\n    raise ValueError('must be brand new')\n",
        encoding="utf-8")
    found = messages.extract([source])
    assert set(found) == {"Waited {seconds} s for {name}.", "The gateway {name} is gone{seconds}", " for good.",
                          " Try the Images API.", "must be brand new"}


def test_every_translation_keeps_the_values_of_its_message(messages):
    _, entries = messages.read_po()
    for entry in entries:
        assert entry.msgstr, entry.msgid
        assert messages.placeholders(entry.msgstr) == messages.placeholders(entry.msgid), entry.msgid


def test_each_message_filled_with_values_comes_back_chinese_with_its_values(messages):
    """Values with spaces and full stops, as paths and relay text have, must not move a template's seams."""
    import string
    _, entries = messages.read_po()
    for entry in entries:
        fields = sorted(messages.placeholders(entry.msgid))
        # Two values with only a space between them cannot both hold spaces: nothing tells where one
        # ends. In real messages the values themselves tell (a known source, a message of ours).
        parts = list(string.Formatter().parse(entry.msgid))
        seams = {f for (_, f, _, _), (lit, g, _, _) in zip(parts, parts[1:]) if f and g and not lit.strip()}
        seams |= {g for (_, f, _, _), (lit, g, _, _) in zip(parts, parts[1:]) if f and g and not lit.strip()}
        values = {f: f"«{i}»" if f in seams else f"«{i} a. b»" for i, f in enumerate(fields)}
        english = entry.msgid.format(**values)
        shown = translate(english, "zh-CN")
        assert shown != english or english == entry.msgstr.format(**values), english
        assert all(v in shown for v in values.values()), (english, shown)
        if not fields:
            assert shown == entry.msgstr.replace("{{", "{").replace("}}", "}"), english


def test_the_compiled_catalogue_is_the_one_its_source_gives(messages):
    header, entries = messages.read_po()
    assert messages.MO.read_bytes() == messages.compile_mo(header, entries), (
        "the .mo is stale: run `python checks/messages.py compile`")


def test_a_message_made_of_messages_reads_as_the_best_fit():
    shown = translate("image-relay-generate: error: The relay or its upstream failed (HTTP 500): Something went "
                      "wrong. If a gateway sits in front of the relay and cannot pass streams on, set "
                      "IMAGE_RELAY_STREAM=false.", "zh-CN")
    assert shown == ("image-relay-generate：错误：中转站或其上游出错 (HTTP 500)：Something went wrong. "
                     "如果中转站前面有网关且它无法转发流式响应，请设置 IMAGE_RELAY_STREAM=false。")
    assert translate("Source image /tmp/my file.png does not exist or is not a file.", "zh-CN") == \
        "源图像 /tmp/my file.png 不存在或不是文件。"
    assert translate("IMAGE_RELAY_STREAM from the user config file /a b/.env must be one of auto, true, false.",
                     "zh-CN") == "IMAGE_RELAY_STREAM（来自用户配置文件 /a b/.env）必须是 auto, true, false 之一。"
    assert translate("Something a relay said.", "zh-CN") == "Something a relay said."
    assert translate("Saved /tmp/a.png.", "en") == "Saved /tmp/a.png."


@pytest.mark.parametrize(("environ", "expected"), [
    ({"IMAGE_RELAY_LANG": "zh-CN", "LANG": "C"}, ("zh-CN", "the environment")),
    ({"IMAGE_RELAY_LANG": "en", "LANG": "zh_CN.UTF-8"}, ("en", "the environment")),
    ({"IMAGE_RELAY_LANG": "zh_CN"}, ("zh-CN", "the environment")),
    ({"LANG": "zh_CN.UTF-8"}, ("zh-CN", "LANG=zh_CN.UTF-8")),
    ({"LANG": "zh_TW.UTF-8"}, ("zh-CN", "LANG=zh_TW.UTF-8")),
    ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.GB18030"}, ("zh-CN", "LC_ALL=zh_CN.GB18030")),
    ({"LANG": "C", "LANGUAGE": "zh_CN"}, ("en", "LANG=C")),
    ({"LANG": "de_DE.UTF-8", "LANGUAGE": "zh_CN:en"}, ("zh-CN", "LANGUAGE=zh_CN:en")),
    ({"LANG": "de_DE.UTF-8"}, ("en", "LANG=de_DE.UTF-8")),
    ({}, ("en", "default")),
])
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only: Windows follows the user's display language")
def test_the_language_follows_the_variable_then_the_locale(environ, expected, tmp_path):
    assert choice({"HOME": str(tmp_path), **environ}) == expected


def test_the_user_config_file_can_choose_the_language(tmp_path):
    from bridge.paths import user_config_file
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "APPDATA": str(tmp_path), "LANG": "C"}
    path = user_config_file(environ)
    path.parent.mkdir(parents=True)
    path.write_text("IMAGE_RELAY_BASE_URL=https://api.example.com/v1\nIMAGE_RELAY_LANG='zh-CN'  # 中文\n",
                    encoding="utf-8")
    assert choice(environ) == ("zh-CN", "the user config file")
    assert choice({**environ, "IMAGE_RELAY_LANG": "en"})[0] == "en"


@pytest.mark.skipif(sys.platform != "win32", reason="Windows only: the user's display language")
def test_windows_follows_the_display_language_not_lang():
    import ctypes
    ui = ctypes.windll.kernel32.GetUserDefaultUILanguage()
    expected = "zh-CN" if ui & 0x3FF == 0x04 else "en"
    assert choice({"LANG": "zh_CN.UTF-8" if expected == "en" else "C"}) == (expected, "the Windows display language")


def test_the_cli_speaks_chinese_to_a_person_and_english_to_the_model(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_LANG", "zh-CN")
    run = run_cli("--partial-images", "1", "a lighthouse")
    assert run.code == 0 and run.json["ok"]
    assert any(re.match(r"\[progress\] \[[0-9.]+s\] 已收到中间图 1/1。", line) for line in run.progress), run.stderr
    assert run.progress[-1].split("] ", 2)[2].startswith("已保存 ")
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="http-401", tag=uuid.uuid4().hex[:8]))
    run = run_cli("a lighthouse")
    assert run.code == 4 and run.json["error"]["code"] == "unauthorized"
    assert run.json["error"]["message"].startswith("The relay refused the API key (HTTP 401)")
    assert "image-relay-generate：错误：中转站拒绝了 API 密钥（HTTP 401）" in run.stderr
    monkeypatch.setenv("IMAGE_RELAY_LANG", "en")
    assert "image-relay-generate: error: The relay refused the API key" in run_cli("a lighthouse").stderr


def test_a_bad_argument_is_told_in_chinese(relay_env, chinese):
    run = run_cli("--size", "huge", "a fox")
    assert run.code == 2 and run.json["error"]["message"] == "Size 'huge' is not valid; use auto or WIDTHxHEIGHT such as 1024x1536."
    assert "image-relay-generate：错误：尺寸 'huge' 无效；请用 auto 或 宽x高，例如 1024x1536。" in run.stderr


def test_the_setup_wizard_speaks_chinese(emulator, chinese):
    from bridge.setup import main
    out, err = io.StringIO(), io.StringIO()
    asked = []

    def ask(prompt):
        asked.append(prompt)
        return ""
    code = main(["--base-url", emulator.url(tag=uuid.uuid4().hex[:8])], stdin=io.StringIO(), stdout=out, stderr=err,
                ask=ask, ask_secret=lambda prompt: asked.append(prompt) or "sk-typed-1234")
    assert code == 0, err.getvalue()
    text = out.getvalue()
    offered = next(line for line in text.splitlines() if line.startswith("中转站提供这些图像模型："))
    assert "正在检查中转站…" in text and "gpt-image-1" in offered and "已写入 " in text
    assert asked[0] == "API 密钥/令牌（输入时不显示）：" and asked[1].startswith("文本模型（负责调用画图工具的那个）")
    code = main(["--non-interactive", "--base-url", "relay.example/v1"], stdin=io.StringIO(), stdout=out, stderr=err)
    assert code == 1 and "image-relay-setup: API 地址必须以 http:// 或 https:// 开头" in err.getvalue()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only: the locale variables choose the language")
def test_the_installed_commands_follow_lang(tmp_path):
    """As a user types them: image-relay-doctor and image-relay-setup with LANG=zh_CN.UTF-8, then LANG=C."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE_RELAY_", "LC_", "LANG"))}
    doctor = shutil.which("image-relay-doctor", path=os.path.dirname(sys.executable)) or "image-relay-doctor"
    chinese = subprocess.run([doctor], env={**env, "LANG": "zh_CN.UTF-8"}, capture_output=True, text=True,
                             encoding="utf-8", timeout=60)
    english = subprocess.run([doctor], env={**env, "LANG": "C"}, capture_output=True, text=True, encoding="utf-8",
                             timeout=60)
    assert chinese.returncode == english.returncode == 1
    assert "[✗] 中转站地址和密钥：IMAGE_RELAY_BASE_URL 和 IMAGE_RELAY_API_KEY 都未设置" in chinese.stdout
    assert "结论：还不能使用。" in chinese.stdout
    assert "[✗] Relay address and key: IMAGE_RELAY_BASE_URL and IMAGE_RELAY_API_KEY not set" in english.stdout
    setup = shutil.which("image-relay-setup", path=os.path.dirname(sys.executable)) or "image-relay-setup"
    said = {lang: subprocess.run([setup, "--non-interactive", "--base-url", "api.example.com/v1"],
                                 env={**env, "LANG": lang}, capture_output=True, text=True, encoding="utf-8",
                                 timeout=60) for lang in ("zh_CN.UTF-8", "C")}
    assert said["zh_CN.UTF-8"].stderr == "image-relay-setup: API 地址必须以 http:// 或 https:// 开头；请用 --base-url 传入。\n"
    assert said["C"].stderr == ("image-relay-setup: The base URL must start with http:// or https://; pass it with "
                                "--base-url.\n")


def test_the_built_package_carries_the_catalogue(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for item in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / item, source / item)
    shutil.copytree(ROOT / "bridge", source / "bridge", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path / "dist")],
                   check=True, capture_output=True, timeout=300)
    import zipfile
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    assert "bridge/locale/zh_CN/LC_MESSAGES/image-relay-bridge.mo" in names
    assert "bridge/locale/zh_CN/LC_MESSAGES/image-relay-bridge.po" in names


def test_a_translation_that_fails_leaves_the_english(monkeypatch):
    import bridge.i18n as i18n

    def broken(lang):
        raise ValueError("Single '}' encountered in format string")
    monkeypatch.setattr(i18n, "_catalogue", broken)
    assert translate("Saved /tmp/a.png.", "zh-CN") == "Saved /tmp/a.png."
    long = "The relay rejected the request (HTTP 400): " + "Sentence. " * 2000
    monkeypatch.undo()
    assert translate(long, "zh-CN").startswith("中转站拒绝了请求 (HTTP 400)：Sentence.")

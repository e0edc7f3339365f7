"""What language a person reads the library in, and that every word it shows has its translation."""
from __future__ import annotations

import re
from importlib import resources

import pytest

from bridge.library.language import CHINESE, ENGLISH, choose
from bridge.library.words import CHINESE_WORDS, ENGLISH_WORDS, strings


@pytest.mark.parametrize(("environ", "expected"), [
    ({"IMAGE_RELAY_LANG": "zh-CN", "LANG": "en_US.UTF-8"}, CHINESE),
    ({"IMAGE_RELAY_LANG": "en", "LANG": "zh_CN.UTF-8"}, ENGLISH),
    ({"IMAGE_RELAY_LANG": "fr", "LANG": "zh_CN.UTF-8"}, CHINESE),  # not one of ours: the locale decides
    ({"LANG": "zh_CN.UTF-8"}, CHINESE), ({"LANG": "zh_TW.UTF-8"}, CHINESE), ({"LANG": "de_DE.UTF-8"}, ENGLISH),
    ({"LANGUAGE": "fr:zh_CN", "LANG": "en_US.UTF-8"}, CHINESE), ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, ENGLISH),
    ({"LC_MESSAGES": "zh_CN.GB18030", "LANG": "en_US.UTF-8"}, CHINESE), ({}, ENGLISH),
])
def test_the_language_follows_the_setting_then_the_locale(environ, expected):
    assert choose(environ, platform="linux") == expected


def test_on_windows_the_locale_variables_are_not_read():
    assert choose({"LANG": "zh_CN.UTF-8"}, platform="win32") in (ENGLISH, CHINESE)  # the UI language decides
    assert choose({"IMAGE_RELAY_LANG": "zh-CN"}, platform="win32") == CHINESE


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_word_of_the_page_has_its_chinese_with_the_same_placeholders():
    assert set(CHINESE_WORDS) == set(ENGLISH_WORDS)
    for key, english in ENGLISH_WORDS.items():
        assert placeholders(CHINESE_WORDS[key]) == placeholders(english), key
    page = resources.files("bridge.library").joinpath("page")
    script, html = page.joinpath("library.js").read_text(encoding="utf-8"), page.joinpath("library.html").read_text(encoding="utf-8")
    used = {key for key in re.findall(r'\bt\("(\w+)"', script) if not key.endswith("_")} | set(re.findall(r'data-t(?:-\w+)?="(\w+)"', html))
    used |= {f"status_{s}" for s in ("ok", "failed", "running", "missing")} | {f"face_{f}" for f in ("cli", "mcp", "card", "library")}
    used |= {f"when_{w}" for w in ("day", "month", "model")}
    assert used <= set(ENGLISH_WORDS), used - set(ENGLISH_WORDS)
    assert strings(CHINESE)["title"] == "图片库" and strings(ENGLISH)["title"] == "Image library"


def test_every_word_of_the_card_has_its_chinese():
    card = resources.files("bridge.server").joinpath("card/card.html").read_text(encoding="utf-8")
    table = dict(re.findall(r'"([^"]+)": "([^"]+)"', card[card.index("const ZH = {"):card.index("};", card.index("const ZH = {"))]))
    used = set(re.findall(r'data-tr(?:-\w+)?="([^"]+)"', card))
    for call in re.findall(r"\btr\(((?:[^()]|\([^()]*\))*)\)", card):  # every literal a tr() call may show
        used |= {text for compared, text in re.findall(r'(=== )?"([^"\n]*)"', call.split(", {")[0]) if not compared}
    missing = {u for u in used if u not in table}
    assert not missing, missing
    for english, chinese in table.items():
        assert placeholders(chinese) == placeholders(english), english

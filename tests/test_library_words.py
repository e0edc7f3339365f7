"""The library page and the card read in the reader's language: every word they show has its Chinese."""
from __future__ import annotations

import re
from importlib import resources

from bridge.library.words import ENGLISH_WORDS, strings


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_word_of_the_page_has_its_chinese_with_the_same_placeholders():
    chinese, english = strings("zh-CN"), strings("en")
    assert english == ENGLISH_WORDS
    for key, text in ENGLISH_WORDS.items():
        assert chinese[key] != text and placeholders(chinese[key]) == placeholders(text), key
    page = resources.files("bridge.library").joinpath("page")
    script, html = page.joinpath("library.js").read_text(encoding="utf-8"), page.joinpath("library.html").read_text(encoding="utf-8")
    used = {key for key in re.findall(r'\bt\("(\w+)"', script) if not key.endswith("_")} | set(re.findall(r'data-t(?:-\w+)?="(\w+)"', html))
    used |= {f"status_{s}" for s in ("ok", "failed", "running", "missing")} | {f"face_{f}" for f in ("cli", "mcp", "card", "library")}
    used |= {f"when_{w}" for w in ("day", "month", "model")}
    assert used <= set(ENGLISH_WORDS), used - set(ENGLISH_WORDS)
    assert chinese["title"] == "图片库" and english["title"] == "Image library"


def test_the_page_speaks_the_readers_language(monkeypatch):
    from bridge.library.web import LibraryServer
    for language in ("zh-CN", "en"):
        monkeypatch.setenv("IMAGE_RELAY_LANG", language)
        server = LibraryServer(0)
        try:
            assert server.language == language
        finally:
            server.server_close()


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

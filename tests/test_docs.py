"""The README is a landing page that CI reads; the docs beside it hold together, in two languages.

Every relative link in the README, its Chinese twin, docs/ and the skill resolves, anchors
included (GitHub's heading slugs); the install and test commands CI runs are the README's own.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHINESE_PAGES = ("quickstart", "setup", "agents", "windows", "relays", "troubleshooting")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted((ROOT / "docs").rglob("*.md")),
            *sorted((ROOT / "skills").rglob("*.md"))]


def prose(text: str) -> str:
    """The text links live in: no fenced blocks, no code spans."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation and symbols dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    kept = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, title in _HEADING.findall(_FENCE.sub("", path.read_text("utf-8"))):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    return [target for target in _LINK.findall(prose(path.read_text("utf-8")))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)]


def test_the_readme_is_a_landing_page_of_at_most_250_lines():
    lines = (ROOT / "README.md").read_text("utf-8").splitlines()
    assert len(lines) <= 250, len(lines)


def test_every_relative_link_resolves_anchors_included():
    broken = []
    checked = 0
    for page in pages():
        for target in links(page):
            checked += 1
            where, _, anchor = target.partition("#")
            file = (page.parent / where).resolve() if where else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 100 and not broken, "\n".join(broken)


def test_the_slugs_are_githubs():
    assert slug("Codex without the plugin: `~/.codex/config.toml`") == "codex-without-the-plugin-codexconfigtoml"
    assert slug("The image card (hosts that render MCP Apps)") == "the-image-card-hosts-that-render-mcp-apps"
    assert slug("1. Install") == "1-install"
    assert slug("配置中转站（用户配置文件）") == "配置中转站用户配置文件"


def _ci_command(prefix: str) -> str:
    lines = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    found = [line.strip().split(" ||")[0] for line in lines if line.strip().startswith(prefix)]
    assert len(found) == 1, found
    return found[0]


def test_ci_runs_the_readmes_own_install_and_test_commands():
    install, test = _ci_command("python -m pip install"), _ci_command("python -m pytest")
    assert install == 'python -m pip install -e ".[test,mcp]"' and test == "python -m pytest"
    readme = [line.strip() for line in (ROOT / "README.md").read_text("utf-8").splitlines()]
    assert install in readme and test in readme


def test_the_two_commands_come_first():
    text = (ROOT / "README.md").read_text("utf-8")
    first_block = _FENCE.search(text).group(0).splitlines()[1:-1]
    assert first_block[0] == _ci_command("python -m pip install")
    assert first_block[1].startswith("image-relay-generate --emulator ")
    assert text.index("## Quick start") < text.index("```")


def test_pyproject_names_the_readme():
    assert re.search(r'^readme = "README.md"$', (ROOT / "pyproject.toml").read_text("utf-8"), re.M)
    assert (ROOT / "README.md").is_file()


def _top_links(path: Path) -> list[str]:
    return links_in("\n".join(path.read_text("utf-8").splitlines()[:5]))


def links_in(text: str) -> list[str]:
    return _LINK.findall(prose(text))


@pytest.mark.parametrize("name", CHINESE_PAGES)
def test_each_chinese_page_and_its_english_page_link_to_each_other_at_the_top(name):
    english, chinese = ROOT / "docs" / f"{name}.md", ROOT / "docs" / "zh-CN" / f"{name}.md"
    assert english.is_file() and chinese.is_file()
    assert f"zh-CN/{name}.md" in _top_links(english)
    assert f"../{name}.md" in _top_links(chinese)
    text = chinese.read_text("utf-8")
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 300, "a Chinese page is written in Chinese"


def test_the_readmes_link_to_each_other_at_the_top():
    assert "README.zh-CN.md" in _top_links(ROOT / "README.md")
    assert "README.md" in _top_links(ROOT / "README.zh-CN.md")


def _sections(path: Path) -> list[tuple[str, set[str]]]:
    """Each second-level section: its title, and the docs topics it links to (either language)."""
    parts = re.split(r"^## (.+)$", _FENCE.sub("", path.read_text("utf-8")), flags=re.M)[1:]
    return [(title, {Path(t.split("#")[0]).stem for t in links_in(body) if t.startswith("docs/")})
            for title, body in zip(parts[::2], parts[1::2])]


def test_the_chinese_readme_has_the_readmes_sections():
    english, chinese = _sections(ROOT / "README.md"), _sections(ROOT / "README.zh-CN.md")
    assert len(english) == len(chinese) >= 6, ([t for t, _ in english], [t for t, _ in chinese])
    for (title, topics), (titel, themen) in zip(english, chinese):
        assert topics and topics == themen, (title, titel, topics ^ themen)

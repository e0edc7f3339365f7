"""What a person reads, in their language: English or Chinese (setup, doctor, CLI progress and errors).

The English message is the source of truth and stays in the code as it is written, f-strings and
all; what the model reads (result JSON, ``error.message``, tool text, codes) is never translated.
Translation happens where text is shown to a person: ``translate(text)`` finds the catalogue
template that the finished English text fits (``"Saved {path}."`` fits ``"Saved /tmp/a.png."``),
and fills its Chinese with the values the English carried, each translated in turn when it is a
message of its own. So no raise site changes, and a message with values keeps them.

The catalogue is gettext's (``locale/zh_CN/LC_MESSAGES/image-relay-bridge.mo``, compiled from the
``.po`` beside it by ``checks/messages.py``); its msgids are the templates, in ``str.format``
syntax. ``checks/messages.py`` finds every message in the source by the sinks below, and a test
fails when one has no Chinese (docs/development.md, "Messages and their translations").

The language: ``IMAGE_RELAY_LANG`` (``en`` or ``zh-CN``) from the environment or the user config
file; else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, then ``LANGUAGE``) on POSIX, and the
user's UI language (``GetUserDefaultUILanguage``) on Windows; else English.
"""
from __future__ import annotations

import gettext
import os
import re
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

DOMAIN = "image-relay-bridge"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "zh-CN")
_GETTEXT_NAMES = {"zh-CN": "zh_CN"}

# Where a person-facing message is written, for checks/messages.py: a call to one of these names
# takes its message as the given positional argument (or keyword); "*" is every string argument.
# Every exception of the bridge's tree (errors.py, and any subclass of it) counts as well.
SINKS: dict[str, tuple[int | str, ...]] = {
    "translate": (0,), "N_": (0,), "ValueError": (0,), "SetupFailed": (0,),
    "emit": (1, "message"),  # progress (Reporter.emit)
    "passed": ("*",), "warned": ("*",), "failed": ("*",),  # the doctor's checklist lines
    "Outcome": ("error", "change"),  # what registering with opencode did
    "replace": ("message",),  # a progress line retold (fanout: "Image 2 of 4: ...")
    # Helpers that take a piece of a message: what is checked, refused or read.
    "link_refused": (0,), "check_image": (1, "what"), "_connect_error": ("what",), "_stream_error": (2, "what"),
    "_one_of": (0,), "_in_range": (0,), "_read_image": (2,),
}


def N_(text: str) -> str:
    """Marks a message kept in a table or a variable, so checks/messages.py finds it; returns it unchanged."""
    return text


def language(environ: Mapping[str, str] | None = None) -> str:
    """``en`` or ``zh-CN``, as the module docstring says."""
    return choice(environ)[0]


def choice(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The language and what chose it (for the doctor's settings)."""
    environ = os.environ if environ is None else environ
    if _normalise(environ.get("IMAGE_RELAY_LANG")):
        return _normalise(environ.get("IMAGE_RELAY_LANG")), "the environment"
    configured = _normalise(_from_config_file(environ))
    if configured:
        return configured, "the user config file"
    if sys.platform == "win32":
        return _windows_ui_language(), N_("the Windows display language")
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            value = environ[name]
            if value.split(".")[0] in ("C", "POSIX"):
                return "en", f"{name}={value}"  # gettext's rule: LANGUAGE counts only under a locale other than C
            first = (environ.get("LANGUAGE") or "").split(":")[0]
            if _normalise(first):
                return _normalise(first), f"LANGUAGE={environ['LANGUAGE']}"
            return _normalise(value) or "en", f"{name}={value}"
    return "en", "default"


def translate(text: str, lang: str | None = None, *, sentences: bool = True) -> str:
    """``text`` in the chosen language; English, or text no template fits, comes back as it is.
    ``sentences=False``: only a whole message, never its sentences one by one (for values)."""
    try:
        lang = lang or language()
        if lang == "en" or not text:
            return text
        catalogue = _catalogue(lang)
        shown = catalogue.render(text, sentences) if catalogue is not None else None
    except Exception:  # noqa: BLE001 - a translation is never worth losing the message: it stays English
        return text
    return text if shown is None else shown


def _normalise(value: str | None) -> str | None:
    value = (value or "").strip().replace("_", "-").lower()
    if value.startswith("zh"):
        return "zh-CN"
    if value.startswith("en"):
        return "en"
    return None


_CONFIG_LANG = re.compile(r"^\s*(?:export\s+)?IMAGE_RELAY_LANG\s*=\s*['\"]?([A-Za-z_-]*)", re.M)


def _from_config_file(environ: Mapping[str, str]) -> str | None:
    from .paths import user_config_file
    try:
        path = user_config_file(environ)
        return _config_lang(str(path), path.stat().st_mtime_ns)
    except OSError:
        return None


@lru_cache(maxsize=4)
def _config_lang(path: str, _mtime: int) -> str | None:
    try:
        match = _CONFIG_LANG.search(Path(path).read_text("utf-8", "replace"))
    except OSError:
        return None
    return match.group(1) if match else None


def _windows_ui_language() -> str:
    try:
        import ctypes
        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        return "en"
    return "zh-CN" if langid & 0x3FF == 0x04 else "en"  # LANG_CHINESE, whichever region


@lru_cache(maxsize=None)
def _catalogue(lang: str):
    name = _GETTEXT_NAMES.get(lang)
    if name is None:
        return None
    try:
        translations = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[name])
    except OSError:
        return None
    # gettext looks up exact msgids only; the templates need the whole table, which it keeps here.
    from .catalogue import Catalogue
    return Catalogue(translations._catalog)  # type: ignore[attr-defined]

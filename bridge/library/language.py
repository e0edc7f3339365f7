"""Which language a person reads here: English or Chinese (SPEC §11).

IMAGE_RELAY_LANG (``en`` or ``zh-CN``) first; else, on POSIX, the first of LANGUAGE, LC_ALL,
LC_MESSAGES and LANG that is set, as gettext reads them; else, on Windows, the user's UI
language. Any Chinese locale reads Chinese (simplified is the one translation there is); any
other language reads English.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

ENGLISH, CHINESE = "en", "zh-CN"


def choose(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str:
    chosen = _known(environ.get("IMAGE_RELAY_LANG", ""))
    if chosen:
        return chosen
    if platform == "win32":
        return CHINESE if _windows_ui_is_chinese() else ENGLISH
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            for item in value.split(":"):  # LANGUAGE is a list, most wanted first
                chosen = _known(item)
                if chosen:
                    return chosen
            return ENGLISH
    return ENGLISH


def _known(value: str) -> str | None:
    tag = value.strip().replace("_", "-").split(".")[0].split("@")[0].lower()
    if tag.startswith("zh"):
        return CHINESE
    if tag.startswith("en"):
        return ENGLISH
    return None


def _windows_ui_is_chinese() -> bool:
    try:
        import ctypes
        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return False
    return langid & 0x3FF == 0x04  # LANG_CHINESE, every sublanguage

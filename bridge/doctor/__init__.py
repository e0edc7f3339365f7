"""image-relay-doctor: is the bridge ready for the relay, and if not, what fixes it.

It leads with a checklist (checks.py, each line a report.Line), one line per check with the fix beside a failure, then
the verdict; exit 0 ready, 1 not ready. ``--verbose`` adds every setting with where it came
from (the key, header values and the relay's host never appear) and each relay answer;
``--json`` has everything, in English. The relay is asked ``GET /models`` and probed with
requests it must reject before generating anything (probes.py); the view (view.py) is the only
part that speaks the reader's language.
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import TextIO

from .. import __version__
from ..config import Settings, load_settings
from ..errors import BridgeError
from ..i18n import N_, choice
from ..system.console import utf8_stdio, write_json
from .checks import CHECKS, check
from .checks import diagnose as _diagnose
from .report import Report

__all__ = ["CHECKS", "Report", "check", "diagnose", "main"]


def diagnose(settings: Settings) -> Report:
    report = _diagnose(settings, shown_value)
    lang, source = choice()  # read by i18n, before any settings: the language of every message
    report.settings.append({"variable": "IMAGE_RELAY_LANG", "value": lang, "source": source})
    return report


def shown_value(name: str, settings: Settings) -> str:
    """A setting as the report shows it: never the key, a header's value or the relay's host."""
    value = getattr(settings, name)
    if name == "api_key":
        return N_("set") if value else N_("not set")
    if name == "extra_headers":
        return ", ".join(f"{header} (value hidden)" for header in value) if value else N_("none")
    if name in ("base_url", "gemini_base_url"):
        return re.sub(r"^([a-z]+://)[^/]+", r"\1<host hidden>", value) if value else N_("not set")
    if value == "":
        return N_("(empty)")
    return N_("not set") if value is None else str(value)


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None) -> int:
    if stdout is None:
        utf8_stdio()
    stdout = stdout or sys.stdout
    parser = argparse.ArgumentParser(prog="image-relay-doctor", description="Check the relay configuration.")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also every setting with where it came from, and each relay answer")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON (always English)")
    parser.add_argument("--env-file", metavar="F", help="read settings from this env file")
    parser.add_argument("--version", action="version", version=f"image-relay-doctor {__version__}")
    args = parser.parse_args(argv)
    from .view import render, render_error
    try:
        settings = load_settings({}, env_file=args.env_file)
    except BridgeError as error:
        if args.json:
            write_json(stdout, {"ok": False, "verdict": error.message})
        else:
            render_error(error.message, stdout)
        return 1
    report = diagnose(settings)
    if args.json:
        write_json(stdout, report.to_dict(), indent=2)
    else:
        render(report, stdout, verbose=args.verbose)
    return 0 if report.ok else 1

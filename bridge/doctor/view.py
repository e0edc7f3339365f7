"""The doctor's report as a person reads it: the checklist, then the verdict, in their language."""
from __future__ import annotations

import sys
from typing import TextIO

from ..i18n import language, translate
from .report import Report

# Windows consoles' fonts and code pages (cp936, cp437) have these where they lack ✓ and ✗.
MARKS = {"ok": "√", "fail": "X", "warn": "!", "skipped": "-"} if sys.platform == "win32" else \
    {"ok": "✓", "fail": "✗", "warn": "!", "skipped": "-"}


def render(report: Report, out: TextIO, *, verbose: bool = False) -> None:
    skipped = [translate(line.title) for line in report.checklist if line.status == "skipped"]
    for line in report.checklist:
        if line.status == "skipped":
            continue
        text = translate(line.title) + (_colon() + translate(line.detail) if line.detail else "")
        out.write(f"[{MARKS[line.status]}] {text}\n")
        if line.fix:
            out.write(f"    → {translate(line.fix)}\n")
    if skipped:
        out.write(f"[{MARKS['skipped']}] {translate(f'Not checked: {_joined(skipped)}')}\n")
    if verbose:
        _details(report, out)
    if report.usage_reported:  # what every result will say of the cost, in the mode named
        out.write(translate(f"Usage in results ({report.api_mode} mode): {report.usage_reported}.") + "\n")
    out.write("\n" + (translate(f"Verdict: ready. {report.verdict}") if report.ok else
                      translate(f"Verdict: not ready. {report.verdict}")) + "\n")
    if not verbose:
        out.write(translate("image-relay-doctor --verbose shows every setting and where it came from.") + "\n")


def render_error(message: str, out: TextIO) -> None:
    out.write(translate(f"Verdict: not ready. {message}") + "\n")


def _details(report: Report, out: TextIO) -> None:
    width = max(len(s["variable"]) for s in report.settings)
    out.write("\n" + translate("Settings (value, and where it came from):") + "\n")
    for s in report.settings:
        value = translate(s["value"], sentences=False)
        out.write(f"  {s['variable']:<{width}}  {value}  [{translate(s['source'], sentences=False)}]\n")
    if report.checks:
        out.write("\n" + translate("What the relay answered:") + "\n")
        for c in report.checks:
            detail = c.get("problem") or c.get("relay_says") or ""
            out.write(f"  {c['check']:<20} HTTP {c['status'] or '-'}  {translate(detail)}\n")


def _joined(items: list[str]) -> str:
    return ("、" if language() == "zh-CN" else ", ").join(items)


def _colon() -> str:
    return "：" if language() == "zh-CN" else ": "

"""image-relay-doctor: what the bridge is configured with, and what the relay can do.

It shows each setting and where it came from (the key and the relay's host never appear),
checks the relay and the key with ``GET /models``, probes which image routes exist with
requests the relay must reject before generating anything, and names the API mode to use.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import TextIO

from . import __version__
from .config import FIELDS, Settings, load_settings, variable
from .errors import BridgeError, redact
from .failures import error_from_body
from .transport import probe

ROUTES = (("responses", "POST", "/responses"), ("images/generations", "POST", "/images/generations"),
          ("images/edits", "POST", "/images/edits"))
NO_ROUTE = (404, 405, 501)


@dataclass
class Report:
    settings: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    image_models: list[str] = field(default_factory=list)
    routes: dict[str, bool | None] = field(default_factory=dict)
    verdict: str = ""
    api_mode: str | None = None
    ok: bool = False

    def to_dict(self) -> dict:
        return {"ok": self.ok, "verdict": self.verdict, "api_mode": self.api_mode, "routes": self.routes,
                "image_models": self.image_models, "checks": self.checks, "settings": self.settings}


def shown_value(name: str, settings: Settings) -> str:
    value = getattr(settings, name)
    if name == "api_key":
        return "set" if value else "not set"
    if name == "base_url":
        return re.sub(r"^([a-z]+://)[^/]+", r"\1<host hidden>", value) if value else "not set"
    if value == "":
        return "(empty)"
    return "not set" if value is None else str(value)


def diagnose(settings: Settings) -> Report:
    report = Report()
    for name in FIELDS:
        report.settings.append({"variable": variable(name), "value": shown_value(name, settings),
                                "source": settings.sources.get(name, "default")})
    missing = [variable(n) for n in ("base_url", "api_key") if not getattr(settings, n)]
    if missing:
        report.verdict = (f"Set {' and '.join(missing)} in the user config file {settings.config_file} "
                          "(see .env.example).")
        return report
    models = probe(settings, "GET", "/models")
    report.checks.append(_check("models", models, settings))
    if models.status is None:
        report.verdict = f"The relay cannot be reached: {models.problem}"
        return report
    if models.status in (401, 403):
        report.verdict = "The relay refused the API key; check IMAGE_RELAY_API_KEY."
        return report
    if _is_html(models):
        report.verdict = ("The base URL answers with a web page, not the API: IMAGE_RELAY_BASE_URL must be the API "
                          "base, usually ending in /v1.")
        return report
    report.image_models = _image_models(models.body)
    for label, method, path in ROUTES:
        # Invalid on purpose (no prompt, no image): a relay rejects these before generating anything.
        answer = probe(settings, method, path, files=[("model", (None, b"probe", "text/plain"))]) \
            if label == "images/edits" else probe(settings, method, path, json={})
        report.checks.append(_check(label, answer, settings))
        report.routes[label] = None if answer.status is None else (
            answer.status not in NO_ROUTE and not _is_html(answer) and answer.status not in (401, 403))
    report.api_mode, report.verdict = _verdict(report.routes, settings)
    report.ok = report.api_mode is not None
    return report


def _verdict(routes: dict[str, bool | None], settings: Settings) -> tuple[str | None, str]:
    responses, generations, edits = (routes.get(k) for k, _, _ in ROUTES)
    if responses and generations:
        mode = "responses" if settings.text_model else "images"
        return mode, (f"The relay offers the Responses and Images APIs: use IMAGE_RELAY_API_MODE={mode}"
                      + ("" if settings.text_model else " (or set IMAGE_RELAY_TEXT_MODEL to use responses)")
                      + ("." if edits else "; it has no /images/edits route, so edits need the Responses API."))
    if responses:
        return "responses", "The relay offers only the Responses API: use IMAGE_RELAY_API_MODE=responses."
    if generations:
        return "images", ("The relay has no Responses API: use IMAGE_RELAY_API_MODE=images"
                          + ("." if edits else "; it cannot edit images (no /images/edits route)."))
    return None, "The relay offers none of the image routes; check IMAGE_RELAY_BASE_URL."


def _check(label: str, answer, settings: Settings) -> dict:
    out: dict = {"check": label, "status": answer.status}
    if answer.problem:
        out["problem"] = answer.problem
    elif answer.status and answer.status >= 400:
        out["relay_says"] = redact(_relay_says(answer), settings.secrets)
    return out


def _relay_says(answer) -> str:
    try:
        return error_from_body(answer.status, answer.content_type, answer.body).message
    except BridgeError as exc:  # pragma: no cover - error_from_body returns, never raises
        return exc.message


def _is_html(answer) -> bool:
    return "html" in answer.content_type.lower() or answer.body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def _image_models(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
        ids = [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        return []
    return sorted(i for i in ids if re.search(r"image|dall-e|imagen|flux|seedream|sdxl|stable", i, re.I))


def render(report: Report, out: TextIO) -> None:
    width = max(len(s["variable"]) for s in report.settings)
    out.write("Settings (value, and where it came from):\n")
    for s in report.settings:
        out.write(f"  {s['variable']:<{width}}  {s['value']}  [{s['source']}]\n")
    if report.checks:
        out.write("\nRelay checks:\n")
        for c in report.checks:
            detail = c.get("problem") or c.get("relay_says") or ""
            out.write(f"  {c['check']:<20} HTTP {c['status'] or '-'}  {detail}\n")
    if report.image_models:
        out.write(f"\nImage models offered: {', '.join(report.image_models)}\n")
    out.write(f"\nVerdict: {report.verdict}\n")


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    parser = argparse.ArgumentParser(prog="image-relay-doctor", description="Check the relay configuration.")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--env-file", metavar="F", help="read settings from this env file")
    parser.add_argument("--version", action="version", version=f"image-relay-doctor {__version__}")
    args = parser.parse_args(argv)
    try:
        settings = load_settings({}, env_file=args.env_file)
    except BridgeError as error:
        stdout.write(json.dumps({"ok": False, "verdict": error.message}) + "\n" if args.json else
                     f"Verdict: {error.message}\n")
        return int(error.exit_code)
    report = diagnose(settings)
    if args.json:
        stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        render(report, stdout)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

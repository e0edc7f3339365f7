"""image-relay-doctor: what the bridge is configured with, and what the relay can do.

It shows each setting and where it came from (the key and the relay's host never appear),
checks the relay and the key with ``GET /models``, probes which image routes exist with
requests the relay must reject before generating anything, checks the configured models
against the relay's list, and names the API mode to use.

It does not lie: a route counts as present only on evidence specific to that route (a
rejection that names what the probe left out), never because every path answers the same
error, as gateways do for a wrong key or a missing header. The mode it names fits the configured
image model: Gemini's native API or Chat Completions for a Gemini (Nano Banana) model, the
Responses or Images API for the others (the table is in ``relay/styles``' docs). Exit 0 ready,
1 not ready.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from typing import TextIO

from . import __version__
from .config import FIELDS, Settings, load_settings, variable
from .errors import BridgeError, redact
from .relay.diagnose import error_from_body
from .errors import ConfigError
from .relay.call import HttpCall
from .relay.models import family, size_problem
from .relay.styles.gemini import gemini_base
from .relay.transport import probe
from .system.console import utf8_stdio, write_json

ROUTES = (("responses", "POST", "/responses"), ("images/generations", "POST", "/images/generations"),
          ("images/edits", "POST", "/images/edits"), ("chat/completions", "POST", "/chat/completions"))
GEMINI = "gemini"  # the route of Gemini's native API, probed for Gemini image models only
# Bodies that are invalid on purpose but name a model, so the answer is about this route's own
# fields (no messages) rather than the missing model every route would complain of alike.
_PROBES = {"chat/completions": lambda s: {"model": s.image_model or s.text_model or "probe", "messages": []}}
NO_ROUTE = (404, 405, 501)
NO_MODEL_LIST = (404, 405)  # relays without /models still work; their models cannot be checked
# Known gateway answers and what fixes them (gateways.md).
_FIXES = (
    (re.compile(r"no connected db", re.I),
     "LiteLLM answers this for a key it does not know (it has no database for virtual keys): use its master key "
     "or a key it issued as IMAGE_RELAY_API_KEY."),
    (re.compile(r"x-portkey|header", re.I),
     "The gateway needs headers of its own: set IMAGE_RELAY_EXTRA_HEADERS (README, Behind a gateway)."),
)

@dataclass
class Report:
    settings: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    image_models: list[str] = field(default_factory=list)
    routes: dict[str, bool | None] = field(default_factory=dict)
    verdict: str = ""
    api_mode: str | None = None
    ok: bool = False
    listed: list[str] | None = None  # every model id /models gave (not in the JSON report)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "verdict": self.verdict, "api_mode": self.api_mode, "routes": self.routes,
                "image_models": self.image_models, "checks": self.checks, "settings": self.settings}


def shown_value(name: str, settings: Settings) -> str:
    value = getattr(settings, name)
    if name == "api_key":
        return "set" if value else "not set"
    if name == "extra_headers":
        return ", ".join(f"{header} (value hidden)" for header in value) if value else "none"
    if name in ("base_url", "gemini_base_url"):
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
        report.verdict = f"The relay refused the API key: {report.checks[-1]['relay_says']}"
        if "IMAGE_RELAY_API_KEY" not in report.verdict:
            report.verdict += " Check IMAGE_RELAY_API_KEY."
        return report
    if _is_html(models):
        report.verdict = ("The base URL answers with a web page, not the API: IMAGE_RELAY_BASE_URL must be the API "
                          "base, usually ending in /v1.")
        return report
    listed = _model_ids(models.body) if 200 <= models.status < 300 else None
    if listed is None and models.status not in NO_MODEL_LIST:
        report.verdict = _failed_verdict("GET /models", models.status, report.checks[-1].get("relay_says"))
        if models.status >= 500 and settings.extra_headers:
            report.verdict += (" Some gateways (self-hosted Portkey on Node 20) fail on GET /models alone: if so, "
                               "try one generation with IMAGE_RELAY_STREAM=false.")
        return report
    report.listed = listed
    report.image_models = sorted(i for i in listed or () if _IMAGE_MODEL.search(i))
    answers = []
    for label, method, path in ROUTES:
        # Invalid on purpose (no prompt, no image): a relay rejects these before generating anything.
        answer = probe(settings, method, path, files=[("model", (None, b"probe", "text/plain"))]) \
            if label == "images/edits" else probe(settings, method, path,
                                                  json=_PROBES[label](settings) if label in _PROBES else {})
        report.checks.append(_check(label, answer, settings))
        answers.append((label, answer))
    gemini = _probe_gemini(settings)
    if gemini is not None:
        report.checks.append(_check(GEMINI, gemini, settings))
        answers.append((GEMINI, gemini))
    said = [(a.status, c.get("relay_says")) for (_, a), c in zip(answers, report.checks[1:])]
    if len(set(said)) == 1 and said[0][0] is not None and not 200 <= said[0][0] < 300 \
            and said[0][0] not in NO_ROUTE:
        # Every route answered alike: that is the gateway speaking, not the routes.
        report.verdict = _failed_verdict("every probe", said[0][0], said[0][1])
        return report
    for (label, answer), (status, message) in zip(answers, said):
        report.routes[label] = None if status is None else _route_present(answer, message, said)
    report.api_mode, report.verdict = _verdict(report.routes, settings)
    if report.api_mode is not None and listed is not None:
        missing = _missing_models(settings, report.api_mode, listed)
        if missing:
            report.api_mode, report.verdict = None, missing
    misfit = size_problem(settings.image_model, settings.size)
    if report.api_mode is not None and misfit is not None:
        report.api_mode, report.verdict = None, (
            f"IMAGE_RELAY_DEFAULT_SIZE={settings.size} is not a size {settings.image_model} takes ({misfit[0]}), so "
            f"every call without a size would be refused: set auto or one of {', '.join(misfit[1])}.")
    report.ok = report.api_mode is not None
    return report


_IMAGE_MODEL = re.compile(r"image|dall-e|imagen|flux|seedream|sdxl|stable", re.I)


def _probe_gemini(settings: Settings):
    """Gemini's route, with no contents (a 400 before anything is drawn), for a Gemini image model."""
    if family(settings.image_model) != "gemini":
        return None
    try:
        call = HttpCall(path=f"/models/{settings.image_model}:generateContent", stream=False,
                        base=gemini_base(settings), key_header=settings.gemini_auth)
    except ConfigError:
        return None  # no Gemini base to probe: the verdict says to set it
    return probe(settings, "POST", call.path, json={}, base=call.base, key_header=call.key_header)


def _route_present(answer, message: str | None, said: list) -> bool:
    """Evidence specific to this route: a success, or a rejection no other probe got."""
    status = answer.status
    if status in NO_ROUTE or status in (401, 403) or _is_html(answer):
        return False
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status not in (408, 429) and sum(1 for s in said if s == (status, message)) == 1


def _failed_verdict(what: str, status: int, relay_says: str | None) -> str:
    text = relay_says or f"HTTP {status}"
    fix = next((fix for pattern, fix in _FIXES if pattern.search(text)), None)
    if fix is None:
        fix = ("The relay or gateway is failing; try again later or ask whoever runs it." if status >= 500 else
               "Check IMAGE_RELAY_BASE_URL (the API base, usually ending in /v1), IMAGE_RELAY_API_KEY and, behind a "
               "gateway, IMAGE_RELAY_EXTRA_HEADERS.")
    return f"The relay is not ready: {what} answered HTTP {status}: {text} {fix}"


def _missing_models(settings: Settings, mode: str, listed: list[str]) -> str | None:
    wanted = [("text_model", settings.text_model)] if mode == "responses" else []
    if settings.image_model:
        wanted.append(("image_model", settings.image_model))
    problems = []
    for name, model in wanted:
        if model and model not in listed:
            near = difflib.get_close_matches(model, listed, n=3, cutoff=0.5)
            problems.append(f"{variable(name)}={model} is not among the relay's models"
                            + (f" (nearest: {', '.join(near)})" if near else ""))
    if not problems:
        return None
    return "; ".join(problems) + ". Set the model names the relay lists (GET /models), or every generation will fail."


def _verdict(routes: dict[str, bool | None], settings: Settings) -> tuple[str | None, str]:
    if family(settings.image_model) == "gemini":
        return _gemini_verdict(routes, settings)
    responses, generations, edits, chat = (routes.get(k) for k, _, _ in ROUTES)
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
    if chat:
        return "chat", ("The relay offers only Chat Completions: use IMAGE_RELAY_API_MODE=chat, for image models the "
                        "relay sells over chat (reverse models, Gemini through a gateway).")
    return None, "The relay offers none of the image routes; check IMAGE_RELAY_BASE_URL."


def _gemini_verdict(routes: dict[str, bool | None], settings: Settings) -> tuple[str | None, str]:
    model = settings.image_model
    if routes.get(GEMINI):
        return "gemini", (f"{model} is a Gemini image model and the relay serves Gemini's native API: use "
                          "IMAGE_RELAY_API_MODE=gemini (aspect ratios and 1K/2K/4K resolutions as Google takes them).")
    if routes.get("chat/completions"):
        why = "it has no Gemini route" if GEMINI in routes else "the Gemini route's address is not known (set " \
            "IMAGE_RELAY_GEMINI_BASE_URL to probe it)"
        return "chat", (f"{model} is a Gemini image model and {why}, so use IMAGE_RELAY_API_MODE=chat (Chat "
                        "Completions with image output, as OpenRouter, LiteLLM and new-api serve it).")
    if routes.get("responses"):
        return "responses", (f"{model} is a Gemini image model, and the relay offers only the Responses API: use "
                             "IMAGE_RELAY_API_MODE=responses (the image comes back as Markdown in the text).")
    return None, f"The relay offers no route that serves {model}; check IMAGE_RELAY_BASE_URL and the model name."


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


def _model_ids(body: bytes) -> list[str] | None:
    try:
        data = json.loads(body)
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict) and m.get("id")]
    except (ValueError, AttributeError, TypeError):
        return None


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
    if stdout is None:
        utf8_stdio()
    stdout = stdout or sys.stdout
    parser = argparse.ArgumentParser(prog="image-relay-doctor", description="Check the relay configuration.")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--env-file", metavar="F", help="read settings from this env file")
    parser.add_argument("--version", action="version", version=f"image-relay-doctor {__version__}")
    args = parser.parse_args(argv)
    try:
        settings = load_settings({}, env_file=args.env_file)
    except BridgeError as error:
        if args.json:
            write_json(stdout, {"ok": False, "verdict": error.message})
        else:
            stdout.write(f"Verdict: {error.message}\n")
        return 1
    report = diagnose(settings)
    if args.json:
        write_json(stdout, report.to_dict(), indent=2)
    else:
        render(report, stdout)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

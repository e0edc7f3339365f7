"""The doctor's checklist: each check is one function in ``CHECKS``, added with ``@check(title)``.

A check gets the ``Visit`` (the settings, the report, what earlier checks learned) and returns its
line: ``passed(detail)``, ``warned(detail, fix)``, ``failed(detail, fix, verdict)``, or None when
it has nothing to say. The first failure ends the list: the checks after it are listed as skipped,
and its verdict is the report's. Without a failure, the API mode check's verdict stands.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from ..config import FIELDS, Settings, variable
from ..i18n import N_
from ..relay.models import family, size_problem
from ..relay.transport import probe
from .probes import (GEMINI, OPENROUTER, NO_MODEL_LIST, answer_record, failed_verdict, image_models, is_html,
                     mode_verdict, model_ids, probe_routes, same_everywhere)
from .report import Line, Report, Visit, failed, passed, warned


Check = Callable[[Visit], "Line | None"]
CHECKS: list[tuple[str, str, Check]] = []


def check(title: str) -> Callable[[Check], Check]:
    def add(function: Check) -> Check:
        CHECKS.append((function.__name__, title, function))
        return function
    return add


@check(N_("Config file"))
def config_file(visit: Visit) -> Line:
    path = visit.settings.config_file
    if Path(path).is_file():
        return passed(path)
    return warned(f"none yet at {path}", "image-relay-setup writes it (or copy .env.example there).")


@check(N_("Relay address and key"))
def relay_settings(visit: Visit) -> Line:
    settings = visit.settings
    needed = ("base_url",) if settings.extra_headers else ("base_url", "api_key")  # a gateway may take its own key
    missing = [variable(name) for name in needed if not getattr(settings, name)]
    if len(missing) == 2:
        return failed("IMAGE_RELAY_BASE_URL and IMAGE_RELAY_API_KEY not set",
                      "Run image-relay-setup, or set them in the user config file.",
                      f"Set IMAGE_RELAY_BASE_URL and IMAGE_RELAY_API_KEY in the user config file {settings.config_file} "
                      "(see .env.example).")
    if missing:
        name = missing[0]
        return failed(f"{name} not set", "Run image-relay-setup, or set it in the user config file.",
                      f"Set {name} in the user config file {settings.config_file} (see .env.example).")
    visit.models = probe(settings, "GET", "/models")
    visit.report.checks.append(answer_record("models", visit.models, settings))
    return passed(f"set, the address from {settings.sources.get('base_url', 'default')}")


@check(N_("Relay reachable"))
def relay_reachable(visit: Visit) -> Line:
    models = visit.models
    if models.status is None:
        return failed(models.problem, "Check IMAGE_RELAY_BASE_URL and the network.",
                      f"The relay cannot be reached: {models.problem}")
    if is_html(models):
        return failed("the base URL answers with a web page, not the API",
                      "IMAGE_RELAY_BASE_URL must be the API base, usually ending in /v1.",
                      "The base URL answers with a web page, not the API: IMAGE_RELAY_BASE_URL must be the API "
                      "base, usually ending in /v1.")
    return passed(f"GET /models answered HTTP {models.status}")


@check(N_("Key accepted"))
def key_accepted(visit: Visit) -> Line:
    status, says = visit.models.status, visit.report.checks[-1].get("relay_says")
    if status in (401, 403):
        verdict = f"The relay refused the API key: {says}"
        return failed(f"refused (HTTP {status})", "Check IMAGE_RELAY_API_KEY: the key (token) your relay issued.",
                      verdict if "IMAGE_RELAY_API_KEY" in verdict else f"{verdict} Check IMAGE_RELAY_API_KEY.")
    if 200 <= status < 300:
        return passed()
    return warned(f"not confirmed: GET /models answered HTTP {status}")


@check(N_("Models offered"))
def models_offered(visit: Visit) -> Line:
    report, models = visit.report, visit.models
    listed = model_ids(models.body) if 200 <= models.status < 300 else None
    if listed is None and models.status not in NO_MODEL_LIST:
        verdict = failed_verdict("GET /models", models.status, report.checks[-1].get("relay_says"))
        if models.status >= 500 and visit.settings.extra_headers:
            verdict += (" Some gateways (self-hosted Portkey on Node 20) fail on GET /models alone: if so, try one "
                        "generation with IMAGE_RELAY_STREAM=false.")
        return failed(f"GET /models answered HTTP {models.status}", "See the verdict below.", verdict)
    if listed is None:
        return warned(f"the relay has no model list (HTTP {models.status}), so the models cannot be checked")
    report.listed, report.image_models = listed, image_models(listed)
    return passed(f"{len(listed)} models; image models: {', '.join(report.image_models) or 'none recognised'}")


@check(N_("Image routes"))
def image_routes(visit: Visit) -> Line:
    answers = probe_routes(visit.settings, visit.report.checks)
    alike = same_everywhere(answers)
    if alike is not None:
        return failed(f"every probe answered HTTP {alike[0]} alike", "See the verdict below.",
                      failed_verdict("every probe", *alike))
    visit.report.routes = {label: present for label, _, _, present in answers}
    found = ", ".join(f"/{label}" for label, _, _, present in answers if present)
    lacking = ", ".join(f"/{label}" for label, _, _, present in answers if not present)
    if not found:
        return failed(f"none of {lacking}", "Check IMAGE_RELAY_BASE_URL.",
                      "The relay offers none of the image routes; check IMAGE_RELAY_BASE_URL.")
    return warned(f"{found}; not {lacking}") if lacking else passed(found)


@check(N_("API mode"))
def api_mode(visit: Visit) -> Line:
    report, configured = visit.report, visit.settings.api_mode
    report.api_mode, report.verdict = mode_verdict(report.routes, visit.settings)
    routes = report.routes
    gemini_model = family(visit.settings.image_model) == "gemini"
    works = {"responses": routes.get("responses"),
             "images": routes.get("images/generations") or routes.get(OPENROUTER),
             "chat": routes.get("chat/completions"), "gemini": routes.get(GEMINI),
             "auto": (routes.get(GEMINI) or routes.get("chat/completions")) if gemini_model else
             (routes.get("responses") or routes.get("images/generations") or routes.get(OPENROUTER))}
    if not works.get(configured, True):
        return warned(f"use {report.api_mode}; IMAGE_RELAY_API_MODE={configured} needs a route the relay lacks",
                      f"Set IMAGE_RELAY_API_MODE={report.api_mode}.")
    return passed(f"use {report.api_mode}")


@check(N_("Configured models"))
def configured_models(visit: Visit) -> Line | None:
    settings, report = visit.settings, visit.report
    if report.api_mode in ("images", "chat", "gemini") and not settings.image_model:
        return failed("IMAGE_RELAY_IMAGE_MODEL not set", "Run image-relay-setup to pick one the relay offers.",
                      f"IMAGE_RELAY_IMAGE_MODEL is not set, and {report.api_mode} mode needs it.")
    wanted = [("text_model", settings.text_model)] if report.api_mode == "responses" else []
    wanted = [(name, model) for name, model in wanted + [("image_model", settings.image_model)] if model]
    if not wanted:
        return None
    if report.listed is None:
        return warned("not checked: the relay has no model list")
    problems = []
    for name, model in wanted:
        if model not in report.listed:
            near = difflib.get_close_matches(model, report.listed, n=3, cutoff=0.5)
            problems.append(N_(f"{variable(name)}={model} is not among the relay's models (nearest: {', '.join(near)})")
                            if near else N_(f"{variable(name)}={model} is not among the relay's models"))
    if problems:
        return failed("; ".join(problems), "Set the model names the relay lists.",
                      f"{'; '.join(problems)}. Set the model names the relay lists (GET /models), or every "
                      "generation will fail.")
    return passed(", ".join(model for _, model in wanted))


@check(N_("Default size"))
def default_size(visit: Visit) -> Line | None:
    settings = visit.settings
    misfit = size_problem(settings.image_model, settings.size)
    if misfit is None:
        return None if settings.size == "auto" else passed(f"{settings.size} suits {settings.image_model}")
    sizes = ", ".join(misfit[1])
    return failed(f"{settings.size} is not a size {settings.image_model} takes",
                  f"Set IMAGE_RELAY_DEFAULT_SIZE to auto or one of {sizes}.",
                  f"IMAGE_RELAY_DEFAULT_SIZE={settings.size} is not a size {settings.image_model} takes ({misfit[0]}), "
                  f"so every call without a size would be refused: set auto or one of {sizes}.")


def diagnose(settings: Settings, shown_value: Callable[[str, Settings], str]) -> Report:
    report = Report(settings=[{"variable": variable(name), "value": shown_value(name, settings),
                               "source": settings.sources.get(name, "default")} for name in FIELDS])
    visit, verdict = Visit(settings, report), ""
    for name, title, function in CHECKS:
        if verdict:
            report.checklist.append(Line(name, "skipped", title))
            continue
        line = function(visit)
        if line is not None:
            line.check, line.title = name, title
            report.checklist.append(line)
            verdict = line.verdict
    if verdict:
        report.api_mode, report.verdict = None, verdict
    report.ok = report.api_mode is not None
    if report.ok:
        from ..relay.usage import REPORTED
        report.usage_reported = REPORTED.get(report.api_mode)
    return report

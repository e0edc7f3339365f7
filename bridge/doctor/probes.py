"""What the doctor asks the relay, and how it reads the answers.

``GET /models`` tells whether the relay is reachable, takes the key and lists models; each image
route gets a request it must reject before generating anything (no prompt, no image), and Gemini's
native route is probed for a Gemini image model, OpenRouter's ``/images`` for a relay without
``/images/generations``. A route counts as present only on evidence
specific to it: a success, or a rejection no other probe got. The mode named fits the configured
image model: Gemini's native API or Chat Completions for a Gemini (Nano Banana) model, the
Responses or Images API for the others (docs/relays.md has the table).
"""
from __future__ import annotations

import json
import re

from ..config import Settings
from ..errors import BridgeError, ConfigError, redact
from ..i18n import N_
from ..relay.call import HttpCall
from ..relay.diagnose import error_from_body
from ..relay.models import family
from ..relay.styles.gemini import gemini_base
from ..relay.transport import ProbeAnswer, probe

ROUTES = (("responses", "POST", "/responses"), ("images/generations", "POST", "/images/generations"),
          ("images/edits", "POST", "/images/edits"), ("chat/completions", "POST", "/chat/completions"))
GEMINI = "gemini"  # the route of Gemini's native API, probed for Gemini image models only
OPENROUTER = "images (OpenRouter)"  # OpenRouter's Image API, probed when /images/generations is missing
# Bodies that are invalid on purpose but name a model, so the answer is about this route's own
# fields (no messages) rather than the missing model every route would complain of alike.
_PROBES = {"chat/completions": lambda s: {"model": s.image_model or s.text_model or "probe", "messages": []}}
NO_ROUTE = (404, 405, 501)
NO_MODEL_LIST = (404, 405)  # relays without /models still work; their models cannot be checked
# Known gateway answers and what fixes them (docs/relays.md, "Behind a gateway").
_FIXES = (
    (re.compile(r"no connected db", re.I),
     N_("LiteLLM answers this for a key it does not know (it has no database for virtual keys): use its master "
        "key or a key it issued as IMAGE_RELAY_API_KEY.")),
    (re.compile(r"x-portkey|header", re.I),
     N_("The gateway needs headers of its own: set IMAGE_RELAY_EXTRA_HEADERS (docs/relays.md, Behind a gateway).")),
)
_IMAGE_MODEL = re.compile(r"image|dall-e|imagen|flux|seedream|sdxl|stable", re.I)


def answer_record(label: str, answer: ProbeAnswer, settings: Settings) -> dict:
    """One relay answer as the report keeps it: status, and the problem or what the relay said."""
    out: dict = {"check": label, "status": answer.status}
    if answer.problem:
        out["problem"] = answer.problem
    elif answer.status and answer.status >= 400:
        out["relay_says"] = redact(_relay_says(answer), settings.secrets)
    return out


def probe_routes(settings: Settings, records: list[dict]) -> list[tuple[str, int | None, str | None, bool | None]]:
    """(route, status, what the relay said, present) for each image route; records each answer."""
    answers = []
    for label, method, path in ROUTES:
        answer = probe(settings, method, path, files=[("model", (None, b"probe", "text/plain"))]) \
            if label == "images/edits" else probe(settings, method, path,
                                                  json=_PROBES[label](settings) if label in _PROBES else {})
        answers.append((label, answer))
    gemini = _probe_gemini(settings)
    if gemini is not None:
        answers.append((GEMINI, gemini))
    if dict(answers)["images/generations"].status in (404, 405):
        # No /images/generations: OpenRouter's Image API, with no prompt (a 400 before anything is drawn).
        answers.append((OPENROUTER, probe(settings, "POST", "/images", json={"model": settings.image_model or "probe"})))
    for index, (label, answer) in enumerate(answers):
        record = answer_record(label, answer, settings)
        records.append(record)
        answers[index] = (label, answer, record.get("relay_says"))
    said = [(answer.status, says) for _, answer, says in answers]
    return [(label, answer.status, says, None if answer.status is None else _route_present(answer, says, said))
            for label, answer, says in answers]


def _probe_gemini(settings: Settings) -> ProbeAnswer | None:
    """Gemini's route, with no contents (a 400 before anything is drawn), for a Gemini image model."""
    if family(settings.image_model) != "gemini":
        return None
    try:
        call = HttpCall(path=f"/models/{settings.image_model}:generateContent", stream=False,
                        base=gemini_base(settings), key_header=settings.gemini_auth)
    except ConfigError:
        return None  # no Gemini base to probe: the verdict says to set it
    return probe(settings, "POST", call.path, json={}, base=call.base, key_header=call.key_header)


def same_everywhere(answers: list[tuple]) -> tuple[int, str | None] | None:
    """(status, text) when every probe got the same failure: that is a gateway speaking, not the routes."""
    said = {(status, says) for _, status, says, _ in answers}
    if len(said) != 1:
        return None
    status, says = next(iter(said))
    if status is None or 200 <= status < 300 or status in NO_ROUTE:
        return None
    return status, says


def _route_present(answer: ProbeAnswer, message: str | None, said: list) -> bool:
    status = answer.status
    if status in NO_ROUTE or status in (401, 403) or is_html(answer):
        return False
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status not in (408, 429) and sum(1 for s in said if s == (status, message)) == 1


def failed_verdict(what: str, status: int, relay_says: str | None) -> str:
    text = relay_says or f"HTTP {status}"
    fix = next((fix for pattern, fix in _FIXES if pattern.search(text)), None)
    if fix is None:
        fix = (N_("The relay or gateway is failing; try again later or ask whoever runs it.") if status >= 500 else
               N_("Check IMAGE_RELAY_BASE_URL (the API base, usually ending in /v1), IMAGE_RELAY_API_KEY and, behind "
                  "a gateway, IMAGE_RELAY_EXTRA_HEADERS."))
    # Two sentences, so the relay's words never run into the fix.
    return N_(f"The relay is not ready: {what} answered HTTP {status}: {text}") + " " + fix


def mode_verdict(routes: dict[str, bool | None], settings: Settings) -> tuple[str | None, str]:
    """The API mode the routes allow for the configured image model, and the verdict that names it."""
    if family(settings.image_model) == "gemini":
        return _gemini_verdict(routes, settings)
    responses, generations, edits, chat = (routes.get(k) for k, _, _ in ROUTES)
    if responses and generations:
        if not settings.text_model:
            return "images", (N_("The relay offers the Responses and Images APIs: use IMAGE_RELAY_API_MODE=images "
                                 "(or set IMAGE_RELAY_TEXT_MODEL to use responses).") if edits else
                              N_("The relay offers the Responses and Images APIs: use IMAGE_RELAY_API_MODE=images "
                                 "(or set IMAGE_RELAY_TEXT_MODEL to use responses); it has no /images/edits route, "
                                 "so edits need the Responses API."))
        if not edits:
            return "responses", N_("The relay offers the Responses and Images APIs: use "
                                   "IMAGE_RELAY_API_MODE=responses; it has no /images/edits route, so edits need "
                                   "the Responses API.")
        return "responses", N_("The relay offers the Responses and Images APIs: use IMAGE_RELAY_API_MODE=responses.")
    if responses:
        return "responses", N_("The relay offers only the Responses API: use IMAGE_RELAY_API_MODE=responses.")
    if generations:
        return "images", (N_("The relay has no Responses API: use IMAGE_RELAY_API_MODE=images.") if edits else
                          N_("The relay has no Responses API: use IMAGE_RELAY_API_MODE=images; it cannot edit "
                             "images (no /images/edits route)."))
    if routes.get(OPENROUTER):
        return "images", N_("The relay serves OpenRouter's Image API (/images): use IMAGE_RELAY_API_MODE=images; the "
                            "bridge finds that route by itself and remembers it.")
    if chat:
        return "chat", N_("The relay offers only Chat Completions: use IMAGE_RELAY_API_MODE=chat, for image models "
                          "the relay sells over chat (reverse models, Gemini through a gateway).")
    return None, N_("The relay offers none of the image routes; check IMAGE_RELAY_BASE_URL.")


def _gemini_verdict(routes: dict[str, bool | None], settings: Settings) -> tuple[str | None, str]:
    model = settings.image_model
    if routes.get(GEMINI):
        return "gemini", N_(f"{model} is a Gemini image model and the relay serves Gemini's native API: use "
                            "IMAGE_RELAY_API_MODE=gemini (aspect ratios and 1K/2K/4K resolutions as Google takes "
                            "them).")
    if routes.get("chat/completions"):
        why = N_("it has no Gemini route") if GEMINI in routes else \
            N_("the Gemini route's address is not known (set IMAGE_RELAY_GEMINI_BASE_URL to probe it)")
        return "chat", N_(f"{model} is a Gemini image model and {why}, so use IMAGE_RELAY_API_MODE=chat (Chat "
                          "Completions with image output, as OpenRouter, LiteLLM and new-api serve it).")
    if routes.get("responses"):
        return "responses", N_(f"{model} is a Gemini image model, and the relay offers only the Responses API: use "
                               "IMAGE_RELAY_API_MODE=responses (the image comes back as Markdown in the text).")
    return None, N_(f"The relay offers no route that serves {model}; check IMAGE_RELAY_BASE_URL and the model name.")


def image_models(listed: list[str]) -> list[str]:
    return sorted(i for i in listed if _IMAGE_MODEL.search(i))


def model_ids(body: bytes) -> list[str] | None:
    try:
        data = json.loads(body)
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict) and m.get("id")]
    except (ValueError, AttributeError, TypeError):
        return None


def is_html(answer: ProbeAnswer) -> bool:
    return "html" in answer.content_type.lower() or answer.body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def _relay_says(answer: ProbeAnswer) -> str:
    try:
        return error_from_body(answer.status, answer.content_type, answer.body).message
    except BridgeError as exc:  # pragma: no cover - error_from_body returns, never raises
        return exc.message

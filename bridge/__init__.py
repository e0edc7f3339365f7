"""image-relay-bridge: generate and edit images through OpenAI-compatible image relays.

The package reads as the data flows, top to bottom; imports only point down or to the foundations:

    faces        cli · setup · doctor · viewer          server/ (the MCP server: app, its steps in calls, its
                   |                                      |       answers; who a call is for: audience (the local
                   |                                      |       user) or callers; jobs: background, runner,
                   |                                      |       worker, matching; what the model and the card
                   |                                      |       see: replies, card, sources, uploads; a call as
                   |                                      |       an MCP task: tasks; a shared server: remote,
                   |                                      |       auth, tokens, callers, downloads, caller_history)
    library/     the page, image-relay-library: main, web, guard (what is refused first), api, views, thumbs,
                 actions (its billed actions run as server/ jobs), words; page/ (package data)
    doctor/      checks (the checklist: one function per check) · probes (what the relay is asked) · report · view
                   |
    clients/     register (each agent's own way to add the server) · opencode (its config file)
                 · host (which agent started the server)
                   |
    history/     record (the one call every face makes: core's generate_image, recorded) · db · schema
                 · entries · query · search · cost · upkeep · importer · running (where a library page listens)
    composer     core · fanout · summary    (settings -> the user's request -> relay call -> image files -> result)
                   |
    relay/       styles/ (one module per upstream shape, each building its call and reading its answer:
                 responses · images · openrouter (a route of images) · chat · gemini; base, the interface;
                 text_images, images in a message) · call (one HTTP call) · models (what each image model
                 takes) · vendor (other vendors' Images API fields) · extra_body (the user's own fields)
                 · fitting (a job to its model) · aspect (ratios and tiers) · sizes · transport · compression
                 · links · sse · payloads (image base64 found in the byte stream) · payload_file (one payload
                 decoded to a file) · events · diagnose (relay failures) · retry (what may be sent again;
                 proxy time-outs) · negotiate (refused fields, remembered routes) · tasks (async task
                 objects) · polling (a task followed to its image) · usage (usage and cost, normalized)
                 · receive · rawlog
                   |
    images/      store (names, atomic writes) · integrity (whole-image checks) · sniff (format, size)
                 · pillow (all Pillow use) · b64 · masks (painted masks kept for a job)
                   |
    foundations  config · paths · errors · result · progress · user_request
                 · i18n (the reader's language; translate() where text meets a person) · catalogue (messages
                 matched to gettext's templates; locale/ holds them)
    system/      console (UTF-8 streams) · processes (liveness) · detach (start a process that outlives its
                 starter) · handoff (the authenticated line to it) · winjob (Windows job objects) · outside
                 (start one from outside a job: shell, WMI) · com (COM from ctypes) · uris (file: URIs)
                 · files (replace held files)
    emulator/    a relay on loopback for tests and trials, its routes mirroring relay/styles (responses,
                 images with vendors, tasks and links that expire, openrouter, chat, gemini); it uses
                 images/ and the model table (relay/models and aspect, so it refuses what the bridge
                 refuses and draws the sizes each model draws) and nothing above

The public names load on first use, so ``import bridge`` (and the MCP server's start-up, which
must answer ``initialize`` fast) never pays for requests, dotenv or the core until a call needs them.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "config", "load_settings": "config", "generate_image": "core", "BridgeError": "errors",
    "ExitCode": "errors", "GenerationRequest": "user_request", "Progress": "progress",
    "GenerationResult": "result", "markdown_image": "result", "CancelToken": "relay.transport",
}
__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

"""The image card: an interactive result for hosts that render MCP Apps (``io.modelcontextprotocol/ui``).

Only a client that advertises the extension sees any of it: ``generate_image`` bound to the card
(``_meta.ui.resourceUri``), the card's own tools (``_meta.ui.visibility: ["app"]``), the card's
resources, and a ``_meta`` entry on results that the card reads and the model never does. Every
other client lists one tool and gets the very result it got before the card existed.

The card is one HTML document (``card/card.html``, package data). What it shows comes from the
result's ``_meta[CARD_KEY]``, previews in the result, ``card_status`` (a job's progress, partials and
final image, found through the same job lookup a ``job_id`` call uses) and ``resources/read`` of
``image-relay://jobs/{job}/{kind}/{index}`` (a full image). What it starts goes through
``card_generate``, which calls ``generate_image`` itself, so arguments are checked once, the same way.
"""
from __future__ import annotations

import base64
import contextvars
import os
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.apps import Apps, ResourceCsp, client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from ..images.masks import save_painted_mask
from .audience import audience_of
from .background import FACE
from .sources import job_file, job_paths

CARD_URI = "ui://image-relay-bridge/card.html"
CARD_KEY = "image-relay-bridge/card"  # the result's _meta entry the card reads
IMAGE_URI = "image-relay://jobs/{job_id}/{kind}/{index}"
APP_TOOLS = ("card_generate", "card_status")
TOOL = "generate_image"

CARD_WAIT_SECONDS = 1.0  # a call the card makes returns this soon; the card then follows the job itself
STATUS_WAIT_SECONDS = 1.5  # card_status waits this long for news before answering
FULL_IMAGE_MAX_BYTES = 24 * 1024 * 1024  # larger files stay previews in the card
THUMB_SIDE, THUMB_BYTES = 384, 60_000  # an edit's source beside the result
PARTIAL_SIDE, PARTIAL_BYTES = 768, 200_000

ASKED_KEEP = 256  # jobs whose arguments card_status remembers (this process only)
_ASKED: dict[str, dict] = {}
# The card's own calls to generate_image: they return fast and leave earlier jobs' notices to the model.
_CARD_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("image_card_call", default=False)
# What generate_image worked on in this call (a Job, or a job record from disk), for the card's _meta.
_NOTED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("image_card_noted", default=None)


def card_html() -> str:
    return resources.files(__package__).joinpath("card/card.html").read_text(encoding="utf-8")


def note(job: Any) -> None:
    """generate_image names the job (or record) its result is about."""
    holder = _NOTED.get()
    if holder is not None:
        holder["job"] = job


def budget(wait_seconds: float) -> float:
    """How long this generate_image call waits for its job."""
    return min(wait_seconds, CARD_WAIT_SECONDS) if _CARD_CALL.get() else wait_seconds


def card_call() -> bool:
    """True inside a call the card made (not the model): it must not take the model's notices."""
    return _CARD_CALL.get()


class Card(Apps):
    """The MCP Apps extension with the card's resource, its tools, and per-client visibility."""

    def __init__(self, jobs) -> None:
        super().__init__()
        self._jobs = jobs  # () -> Jobs: the one job lookup generate_image's job_id uses
        self.add_html_resource(CARD_URI, card_html(), name="image-card", title="Image card",
                               description="The images of a generate_image result, its progress and actions.",
                               # Every image the card shows is a data: URL; some hosts (the MCP Inspector)
                               # allow no images at all unless the resource asks for them.
                               csp=ResourceCsp(resource_domains=["data:"]), prefers_border=True)
        self.tool(resource_uri=CARD_URI, visibility=["app"], name="card_generate", description=(
            "For the image card only: start a new billed generation from a card action "
            "(regenerate, variation, edit) and return at once."))(self.card_generate)
        self.tool(resource_uri=CARD_URI, visibility=["app"], name="card_status", description=(
            "For the image card only: a job's progress, new partial images and, once done, its result."))(
            self.card_status)

    # -- visibility ---------------------------------------------------------------------------

    async def filter_lists(self, ctx, call_next):
        """Server middleware: what each client lists depends on whether it renders cards."""
        result = await call_next(ctx)
        lists = {"tools/list": "tools", "resources/list": "resources", "resources/templates/list": "resourceTemplates"}
        field = lists.get(ctx.method)
        if field is None or ctx.request_id is None or not isinstance(result, dict) or field not in result:
            return result
        apps = _supports(ctx)
        items = result[field]
        if field == "tools" and apps:
            items = [{**t, "_meta": {**(t.get("_meta") or {}), "ui": {"resourceUri": CARD_URI}}}
                     if t.get("name") == TOOL else t for t in items]
            items.sort(key=lambda t: t.get("name") != TOOL)  # the model's tool first
        elif not apps:
            items = [t for t in items if t.get("name") not in APP_TOOLS and t.get("uri") != CARD_URI
                     and t.get("uriTemplate") != IMAGE_URI]
        return {**result, field: items}

    async def intercept_tool_call(self, params, ctx, call_next):
        apps = _supports(ctx)
        if params.name in APP_TOOLS and not apps:
            return CallToolResult(content=[TextContent(type="text", text=f"Unknown tool: {params.name}")],
                                  is_error=True)
        if params.name != TOOL or not apps:
            return await call_next(ctx)
        return await _with_card(call_next(ctx), params.arguments or {}, caller=_caller(ctx))

    # -- the card's tools -----------------------------------------------------------------------

    async def card_generate(
        self,
        action: Annotated[Literal["regenerate", "variation", "edit"], Field(description="What the user asked for.")],
        arguments: Annotated[dict, Field(description="The generate_image arguments of the card's result.")],
        job_id: Annotated[str | None, Field(description="The card's job: the image an edit starts from.")] = None,
        index: Annotated[int, Field(ge=0, le=15, description="Which image of that job to edit.")] = 0,
        prompt: Annotated[str | None, Field(description="The edit's prompt.")] = None,
        mask_png: Annotated[str | None, Field(description="Base64 PNG: transparent where the edit may paint.")] = None,
        n: Annotated[int | None, Field(ge=1, le=10, description="How many images a variation makes.")] = None,
        ctx: Context = None,
    ) -> CallToolResult:
        args = {k: v for k, v in arguments.items() if k not in ("job_id", "edit_of")}
        if action == "variation":
            args.pop("seed", None)
            args.pop("output_name", None)
            args["n"] = n or args.get("n") or 1
        elif action == "edit":
            if not prompt or not prompt.strip():
                return _error("Type what to change in the edit box first.")
            caller = _caller(ctx)
            source = self._image_path(job_id, "image", index, caller)
            if source is None:
                return _error("The image to edit is no longer on this machine.")
            args = {k: v for k, v in args.items() if k in ("quality", "output_format", "background",
                                                             "output_compression", "api_mode", "moderation",
                                                             "input_fidelity", "use_prompt_template")}
            args.update(prompt=prompt, image_paths=[source], size="auto")
            if caller is not None:  # a shared server's caller names no server file: its image id and mask bytes
                args.update(image_paths=None, images=[caller.image_id(source)], mask=mask_png or None)
            elif mask_png:
                try:
                    args["mask_path"] = await anyio.to_thread.run_sync(save_painted_mask, mask_png)
                except ValueError as error:
                    return _error(str(error))
        token, face = _CARD_CALL.set(True), FACE.set("card")
        try:
            return await _with_card(ctx.mcp_server.call_tool(TOOL, args, ctx), args, share_arguments=True,
                                    caller=_caller(ctx))
        finally:
            FACE.reset(face)
            _CARD_CALL.reset(token)

    async def card_status(
        self,
        job_id: Annotated[str, Field(description="The job the card follows.")],
        seen: Annotated[int, Field(ge=0, le=1000, description="Partial images the card already has.")] = 0,
        deliver: Annotated[bool, Field(description="The card started this job: its result is delivered here.")] = False,
        ctx: Context = None,
    ) -> CallToolResult:
        jobs = self._jobs()
        caller = _caller(ctx)
        job = jobs.get(job_id.strip(), caller.owner if caller else None)
        if job is None:
            return _error(f"There is no image job {job_id!r} on this machine.")
        if not isinstance(job, dict):
            deadline = time.monotonic() + STATUS_WAIT_SECONDS
            known = len(job.progress)
            while not job.done.is_set() and len(job.progress) == known and time.monotonic() < deadline:
                await anyio.sleep(0.1)
        asked = _ASKED.get(getattr(job, "id", None) or job.get("id"), {})
        card = await _describe(job, None, asked.get("arguments", {}) if not _pending(job) else {}, seen=seen, caller=caller)
        if asked.get("share"):
            card["arguments"] = asked["arguments"]
        if deliver and card["status"] in ("done", "failed"):
            jobs.mark_reported(card["job"])
        text = f"Job {card['job']}: {card['status']}."
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=False,
                              meta={CARD_KEY: card})

    def _image_path(self, job_id: str | None, kind: str, index: int, caller=None) -> str | None:
        """A job's image, only when the job is the caller's own (``sources``, the one lookup)."""
        return job_file(self._jobs(), job_id, kind, index, caller.owner if caller else None)

    # -- full images --------------------------------------------------------------------------

    def install(self, server) -> None:
        """Wire what an extension cannot contribute: list filtering and the full-image resource."""
        server.middleware.append(self.filter_lists)
        server.middleware.append(image_types)

        @server.resource(IMAGE_URI, name="image", title="A generated image",
                         description="The full image file of a job, for the image card.")
        async def read_image(job_id: str, kind: str, index: str, ctx: Context = None) -> bytes:
            # A missing image is the protocol's resource-not-found, with the reason, never a crash.
            if kind not in ("image", "partial") or not index.isdigit():
                raise ResourceNotFoundError("No such image: the kind is image or partial, the index a number.")
            path = self._image_path(job_id, kind, int(index), _caller(ctx))
            if path is None:
                raise ResourceNotFoundError("That image is no longer on this machine.")
            if Path(path).stat().st_size > FULL_IMAGE_MAX_BYTES:
                raise ResourceError("That image is too large to send to the card; its preview stands in.")
            return await anyio.to_thread.run_sync(Path(path).read_bytes)


async def image_types(ctx, call_next):
    """Server middleware: a full image read through ``IMAGE_URI`` carries its own media type, read
    from its bytes (a resource template declares one type for every file it serves)."""
    result = await call_next(ctx)
    if ctx.method != "resources/read" or not isinstance(result, dict):
        return result
    from ..images.sniff import sniff_format
    contents = []
    for item in result.get("contents") or []:
        if isinstance(item, dict) and str(item.get("uri", "")).startswith("image-relay://jobs/") and item.get("blob"):
            kind = sniff_format(base64.b64decode(item["blob"][:64]))
            item = {**item, "mimeType": f"image/{kind}" if kind else "application/octet-stream"}
        contents.append(item)
    return {**result, "contents": contents}


async def _with_card(call, arguments: dict, share_arguments: bool = False, caller=None):
    """Run a generate_image call and add the card's description of its job to the result."""
    holder: dict = {}
    token = _NOTED.set(holder)
    try:
        result = await call
    finally:
        _NOTED.reset(token)
    if isinstance(result, CallToolResult) and "job" in holder:
        card = await _describe(holder["job"], result, arguments, caller=caller)
        if share_arguments:  # what the card asked for, so its own regenerate repeats it
            card["arguments"] = arguments
        if card["job"] not in _ASKED:  # card_status describes the job's edit sources and arguments too
            _ASKED[card["job"]] = {"arguments": arguments, "share": share_arguments}
            while len(_ASKED) > ASKED_KEEP:
                _ASKED.pop(next(iter(_ASKED)))
        result = result.model_copy(update={"meta": {**(result.meta or {}), CARD_KEY: card}})
    return result


def _pending(job: Any) -> bool:
    return job.get("status") == "running" if isinstance(job, dict) else not job.done.is_set()


def _caller(ctx):
    """A shared server's authenticated caller (links, never paths), else None: the local user."""
    reader = audience_of(ctx)
    return reader if reader.owner is not None else None


def _supports(ctx) -> bool:
    try:
        return client_supports_apps(ctx)
    except Exception:  # noqa: BLE001 - no session (a direct call): no card
        return False


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def _describe(job: Any, result: CallToolResult | None, arguments: dict, seen: int = 0, caller=None) -> dict:
    """What the card needs to draw a job: status, facts, images (by preview index, data or URI).
    A shared server's caller gets download links where a local user gets paths and folders."""
    if isinstance(job, dict):
        record = job
        status = "pending" if record.get("status") == "running" else ("done" if record.get("ok") else "failed")
        if record.get("status") == "lost":
            status = "failed"
        card: dict = {"job": record["id"], "status": status, "prompt": record.get("prompt", ""),
                      "elapsed": record.get("elapsed_seconds"), "size": record.get("actual_size"),
                      "format": record.get("output_format"), "warnings": [],
                      "error": record.get("error") or ({"code": "lost", "message": "Its server stopped while it ran."}
                                                       if record.get("status") == "lost" else None)}
    else:
        outcome = job.result if job.done.is_set() else None
        status = "pending" if outcome is None else ("done" if outcome.ok else "failed")
        card = {"job": job.id, "status": status, "prompt": job.prompt, "elapsed": round(job.elapsed(), 1),
                "warnings": [], "error": None}
        if outcome is None:
            last = job.progress[-1] if job.progress else None
            card["progress"] = {"message": job.last_event, "step": last.step if last else 0,
                                "total": last.total if last else 0}
        else:
            card.update(elapsed=outcome.elapsed_seconds, size=outcome.actual_size, format=outcome.output_format,
                        warnings=list(outcome.warnings), error=outcome.error,
                        revised_prompt=outcome.revised_prompt)
    images = job_paths(job, "image") if status != "pending" else []
    previews = [i for i, block in enumerate(result.content) if isinstance(block, ImageContent)] if result else []
    card["images"] = []
    for i, path in enumerate(images):
        entry = {"uri": IMAGE_URI.format(job_id=card["job"], kind="image", index=i), "name": Path(path).name,
                 "bytes": _size(path), **({"url": caller.link(path)} if caller else {"path": path})}
        if len(previews) == min(len(images), 4) and i < len(previews):
            entry["preview"] = previews[i]  # the result's own preview block
        else:  # no preview in the result (previews off, past the fourth, or card_status): one of its own
            entry["src"] = await _data_url(path, 1024, 300_000)
        card["images"].append(entry)
    partials = job_paths(job, "partial") if status != "done" else []
    card["partials"] = []
    for i, path in enumerate(partials):
        if i < seen and status == "pending":
            continue
        card["partials"].append({"index": i, "uri": IMAGE_URI.format(job_id=card["job"], kind="partial", index=i),
                                 "name": Path(path).name, "src": await _data_url(path, PARTIAL_SIDE, PARTIAL_BYTES)})
    card["partials_total"] = len(partials)
    shown = images or partials
    if shown and caller is None:
        card["folder"] = Path(shown[0]).parent.as_uri() if Path(shown[0]).is_absolute() else None
    sources = [p for p in (arguments.get("image_paths") or []) if isinstance(p, str)][:4]
    card["sources"] = [{"name": Path(p).name, "src": await _data_url(p, THUMB_SIDE, THUMB_BYTES)} for p in sources]
    card["edit"] = bool(sources)
    return card


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


async def _data_url(path: str, side: int, max_bytes: int) -> str | None:
    from ..images.pillow import preview
    made = await anyio.to_thread.run_sync(preview, path, side, max_bytes)
    if made is None:
        return None
    return f"data:{made.mime_type};base64," + base64.b64encode(made.data).decode("ascii")


"""image-relay-mcp: the MCP server agents call. One tool, ``generate_image``.

Each generation is a job (``background``) that outlives its call and its server: it runs in a
worker process of its own (``runner``); a call waits up to IMAGE_RELAY_MCP_WAIT_SECONDS, then
returns the job id to wait on; a cancelled call, or a server that is killed or restarted, leaves
the job running, so a billed image is still saved and reported by the next result, and a
re-sent identical call joins the job instead of paying again (``matching``). What the model
reads is compact text led by the markdown image tag, plus a preview image (``replies``,
``images.pillow``). The relay code loads on the first call: ``initialize`` is answered as fast as the
SDK starts. stdout carries protocol only; logs go to stderr.
"""
from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from .. import __version__
from ..paths import user_data_dir, user_state_dir
from ..system.console import utf8_stdio
from ..system.uris import path_from_file_uri
from . import card
from .callers import Caller, caller_of

if TYPE_CHECKING:
    from ..config import Settings
    from .background import Job, Jobs
    from ..result import GenerationResult

HEARTBEAT_SECONDS = 5.0
log = logging.getLogger("image-relay-mcp")

DESCRIPTION = """Generate or edit an image through the user's own OpenAI-compatible image relay and save it locally.

Generation usually takes one to three minutes: call once and wait. If the result says the image is still being generated, call again with the job_id it gives (do not start a new generation: that is billed again).
On success the result's first line is a markdown image tag for the saved file: always put that tag in your reply, on a line of its own, so the user sees the image; a preview of the image is attached for you to look at.
With `image_paths` the call is an edit of those images (optionally with `mask_path`: transparent pixels, or white on black, mark the area to change). To change an image this tool made earlier ("now make it night"), pass `edit_of` with its saved path (or job id) and say only what to change. When the server runs on another machine (its results give http links, not paths), send the images themselves in `images` (base64) instead, or the img_... id of an image it made for you. On failure the result says the error code, the message and what to do next.
Shape: `size` (WIDTHxHEIGHT) or `aspect_ratio` (e.g. 16:9) with `resolution` (1K, 2K, 4K): Gemini image models ("Nano Banana") take the ratio and resolution; GPT image models get the nearest size they take.
api_mode, only when the user asks or a relay needs it: responses (GPT image models through the Responses API), images (the Images API), chat (Chat Completions: OpenRouter, LiteLLM, new-api, "reverse" models), gemini (Gemini's native API: Nano Banana on new-api relays), auto (picks by the model).
Never print the API key, headers or relay URLs."""

class _Server(MCPServer):
    async def list_tools(self):
        # The sizes named are those of the image model configured now (it may change between listings).
        tool = self._tool_manager.get_tool("generate_image")
        if tool is not None:
            tool.description = f"{DESCRIPTION}\n{_model_sizes()}"
        return await super().list_tools()


def _model_sizes() -> str:
    from ..config import load_settings
    from ..errors import BridgeError
    from ..relay.models import sizes_text
    try:
        return sizes_text(load_settings(fallback=_FALLBACK).image_model)
    except BridgeError:
        return sizes_text(None)


_card = card.Card(lambda: _jobs())  # only clients that render MCP Apps see it
# What to do with a result is said here and in the description, which every client's model reads as
# instructions: Gemini CLI wraps tool results in <untrusted_context> and tells its model to ignore
# directives inside; the result itself still leads with the tag.
server = _Server("image-relay-bridge", version=__version__,
                 instructions="Use generate_image to create or edit images. Its result starts with a markdown image "
                              "tag for the saved file: put that tag in your reply, on a line of its own, so the user "
                              "sees the image. If a result says the image is still being generated, call again with "
                              "its job_id instead of starting a new, billed generation.", extensions=[_card])
_card.install(server)


@server.tool(name="generate_image", description=DESCRIPTION, annotations=ToolAnnotations(
    title="Generate image", readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True))
async def generate_image(
    prompt: Annotated[str, Field(description="What to draw, or for an edit what to change. Plain language; up to 32000 characters.")],
    image_paths: Annotated[list[str] | None, Field(description="Absolute paths of up to 16 PNG/JPEG/WebP images to edit. Omit to generate a new image.")] = None,
    mask_path: Annotated[str | None, Field(description="Absolute path of a PNG mask the size of the first image; transparent pixels mark the area to change. Only with image_paths.")] = None,
    size: Annotated[str | None, Field(description="'auto' or WIDTHxHEIGHT, e.g. 1024x1024, 1536x1024 (landscape), 1024x1536 (portrait); the sizes the configured image model takes are in the tool description. Default: the configured size (auto).")] = None,
    quality: Annotated[Literal["auto", "low", "medium", "high"] | None, Field(description="Rendering quality; low is fastest. Default: the configured quality (high).")] = None,
    output_format: Annotated[Literal["png", "jpeg", "webp"] | None, Field(description="File format. Default: the configured format (png).")] = None,
    background: Annotated[Literal["auto", "opaque", "transparent"] | None, Field(description="'transparent' needs png or webp. Default: the configured background (auto).")] = None,
    output_compression: Annotated[int | None, Field(ge=0, le=100, description="0-100, for jpeg and webp only. Default: the configured value (100).")] = None,
    partial_images: Annotated[int | None, Field(ge=0, le=3, description="0-3 progressive previews, saved as they arrive. Default: the configured value (0).")] = None,
    n: Annotated[int | None, Field(ge=1, le=10, description="Number of images, 1-10. Default 1. Several come from one Images API call, or from parallel Responses calls in responses mode.")] = None,
    api_mode: Annotated[Literal["responses", "images", "chat", "gemini", "auto"] | None, Field(description="Relay API to use (see the tool description). Default: the configured mode. Change only when the user asks or the relay lacks the configured one.")] = None,
    aspect_ratio: Annotated[str | None, Field(description="Aspect ratio instead of size, e.g. '16:9', '1:1', '9:16', '21:9'. Gemini models take it as is; GPT models get the nearest size. Default: the configured ratio, if any.")] = None,
    resolution: Annotated[Literal["512", "1K", "2K", "4K"] | None, Field(description="Resolution with aspect_ratio: 1K, 2K or 4K (512 on gemini-3.1-flash-image). For GPT models the long side: 16:9 at 2K on gpt-image-2 is 2048x1152. Default: the configured one, if any.")] = None,
    moderation: Annotated[Literal["auto", "low"] | None, Field(description="Content filtering of the image model: 'low' is less strict. Default: the model's own (auto).")] = None,
    input_fidelity: Annotated[Literal["high", "low"] | None, Field(description="Edits only: 'high' keeps faces, logos and fine detail of the source images closer. gpt-image-1 and gpt-image-1.5 only (gpt-image-2 always keeps detail; gpt-image-1-mini has none).")] = None,
    negative_prompt: Annotated[str | None, Field(description="What to avoid; sent only when the relay policy is 'compat'.")] = None,
    seed: Annotated[int | None, Field(ge=0, le=4294967295, description="Random seed; sent only when the relay policy is 'compat'.")] = None,
    output_name: Annotated[str | None, Field(description="A short file-name stem for the saved image instead of one made from the prompt (no slashes).")] = None,
    use_prompt_template: Annotated[bool, Field(description="Wrap the prompt in the user's configured prompt template. Default true; false sends the prompt exactly as written.")] = True,
    job_id: Annotated[str | None, Field(description="The job id an earlier result gave for an image still being generated: wait for that job and return its image instead of starting a new (billed) generation.")] = None,
    edit_of: Annotated[str | None, Field(description="Edit an image this server made earlier: its job id or its saved path (from a result). A follow-up such as 'now make it night' needs only this and the prompt; through the relay's Responses API the image is referred to, not uploaded again. image_paths, if given, are added as references.")] = None,
    images: Annotated[list[str] | None, Field(description="Images to edit sent in the call, for a server on another machine: each the image as base64 (or a data: URL), or the id (img_...) of an image this server made for you. Use instead of image_paths when the server cannot read your files.")] = None,
    mask: Annotated[str | None, Field(description="A mask sent in the call (base64 or an img_... id), like mask_path. Only with images.")] = None,
    ctx: Context = None,
) -> CallToolResult:
    from ..config import load_settings
    from ..errors import BridgeError
    from ..user_request import GenerationRequest
    from ..result import GenerationResult

    try:
        settings = load_settings({"IMAGE_RELAY_API_MODE": api_mode}, fallback=_FALLBACK)
    except BridgeError as error:
        return _failed(GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(),
                                        exit_code=int(error.exit_code)), None, ctx)
    jobs = _jobs()
    jobs.max_jobs = settings.mcp_max_jobs
    caller = caller_of(ctx)  # None: the local user; else a shared server's authenticated caller
    owner = caller.owner if caller else None
    joined = None
    if job_id:
        found = jobs.get(job_id.strip(), owner)
        if found is None:
            return _text_result(f"There is no image job {job_id.strip()[:40]!r} for you on this server. Call "
                                "generate_image without job_id to start a new generation.", error=True)
        if isinstance(found, dict):  # finished or lost under an earlier server
            card.note(found)
            return _scrubbed(await _from_record(found, jobs, settings, caller), caller)
        job = found
        card.note(job)
    else:
        try:
            sent, sent_mask = (caller or Caller("local", "")).inputs(
                images, mask, image_paths if caller else None, mask_path if caller else None,
                settings.mcp_upload_max_mb * 1048576) if (caller or images or mask) else ((), None)
        except BridgeError as error:
            return _failed(GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(),
                                            exit_code=int(error.exit_code)), None, ctx)
        if caller:
            base = caller.output_base()  # never the caller's roots or the server's project
            settings = caller.with_output_dir(settings)
        else:
            base = await _project_dir(ctx)
            settings = _with_output_dir(settings, base)
        sources, previous = (sent if caller else (*(image_paths or ()), *sent)), None
        if edit_of:
            from .sources import produced_image
            ref = edit_of.strip()
            try:
                if caller and not ref.startswith("job_"):  # a remote caller's own img_... id, never a path
                    sources = (caller.inputs([ref], None, None, None, settings.mcp_upload_max_mb * 1048576)[0][0],
                               *sources)
                else:
                    earlier = produced_image(jobs, ref, owner)
                    sources, previous = (earlier.path, *sources), earlier.response_id
            except BridgeError as error:
                return _scrubbed(_failed(GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(),
                                                          exit_code=int(error.exit_code)), jobs, ctx, caller), caller)
        if caller:
            refused = caller.admit(jobs.running(owner), n or 1, settings)
            if refused:
                return _text_result(f"Image generation refused (caller_limit): {refused}", error=True)
        request = GenerationRequest(
            prompt=prompt, image_paths=sources, mask_path=sent_mask or mask_path, size=size, quality=quality,
            aspect_ratio=aspect_ratio, resolution=resolution,
            output_format=output_format, background=background, output_compression=output_compression,
            partial_images=partial_images, n=n or 1, moderation=moderation, input_fidelity=input_fidelity,
            negative_prompt=negative_prompt, seed=seed,
            use_template=use_prompt_template, output_name=output_name, previous_response_id=previous)
        from .matching import call_key
        key = await anyio.to_thread.run_sync(call_key, request, settings, owner)
        found = jobs.find(key, owner)  # no await between finding and starting: one job per identical call
        if isinstance(found, dict):
            card.note(found)
            joined = _joined_line(found["id"], found.get("started"))
            return _scrubbed(await _from_record(found, jobs, settings, caller, joined), caller)
        if found is not None:
            joined = _joined_line(found.id, found.started)
            job = found
        else:
            job = _start(jobs, request, settings, base, owner, key)
        card.note(job)
    if not await _wait(job, settings, ctx, caller):
        return _scrubbed(_text_result("\n".join([_pending(job, jobs, caller), *([joined] if joined else [])])), caller)
    jobs.mark_reported(job.id)
    result = job.result
    return _scrubbed(await _image_result(result, settings, jobs, caller, joined) if result.ok else
                     _failed(result, jobs, ctx, caller, joined), caller)


def _joined_line(job_id: str, started: float | None) -> str:
    ago = f", started {time.time() - started:.0f} s ago" if started else ""
    return (f"This call repeats the one that started job {job_id}{ago}: it joined that job instead of starting a "
            "new, billed generation.")


_FALLBACK: dict[str, str] = {}  # defaults from the server's command line (the plugin's entry)
_JOBS: list = []


def _jobs() -> Jobs:
    if not _JOBS:
        from .background import Jobs
        _JOBS.append(Jobs(user_state_dir() / "jobs"))
    return _JOBS[0]


def _start(jobs: Jobs, request, settings: Settings, base: Path, owner: str | None, key: str) -> Job:
    from ..relay.transport import CancelToken
    from .runner import run_in_worker

    cancel = CancelToken()

    def work(job: Job) -> GenerationResult:
        return run_in_worker(job, request, settings, base, jobs.dir, cancel)

    return jobs.start(request.prompt, work, cancel=cancel, owner=owner, key=key)


async def _wait(job: Job, settings: Settings, ctx: Context | None, caller: Caller | None = None) -> bool:
    """Wait for the job within the budget, relaying its progress and a heartbeat."""
    from .background import wait

    ticker = _Ticker(ctx)

    async def forward(progress) -> None:
        message = progress.message
        if caller is not None and progress.path:  # a saved or partial image: its link, never its path
            link = caller.link(progress.path)
            message = message.replace(progress.path, link) if progress.path in message else f"{message} {link}"
        await ticker.send(progress.step, progress.total, message)

    async with anyio.create_task_group() as group:
        group.start_soon(ticker.heartbeat)
        try:
            done = await wait(job, card.budget(settings.mcp_wait_seconds), sleep=anyio.sleep, forward=forward,
                              stop_on_cancel=settings.mcp_cancel_stops_job)
        except anyio.get_cancelled_exc_class():
            log.info("a generate_image call was cancelled; job %s %s", job.id,
                     "was stopped" if settings.mcp_cancel_stops_job else "runs on and will be reported")
            raise
        finally:
            group.cancel_scope.cancel()
    if done and ctx is not None:
        # Claude Code drops the whole connection (and so the server) when a progress notification
        # is handled after the result it belongs to; give the last ones a moment to be read first.
        await anyio.sleep(0.1)
    return done


class _Ticker:
    """MCP progress must increase with every notification, heartbeats included."""

    def __init__(self, ctx: Context | None) -> None:
        self.ctx = ctx
        self.value = 0.0
        self.total: float | None = None
        self.last = time.monotonic()
        self.started = self.last

    async def send(self, step: float, total: float | None, message: str) -> None:
        self.value = max(float(step), self.value + 0.001)
        self.total = total
        await self._notify(message)

    async def heartbeat(self) -> None:
        while True:
            await anyio.sleep(1.0)
            if time.monotonic() - self.last >= HEARTBEAT_SECONDS:
                ceiling = int(self.value) + 0.99
                self.value = min(ceiling, self.value + 0.01) if self.value + 0.01 < ceiling else self.value + 0.0001
                await self._notify(f"Still waiting for the relay ({time.monotonic() - self.started:.0f} s).")

    async def _notify(self, message: str) -> None:
        self.last = time.monotonic()
        if self.ctx is None:
            return
        try:
            await self.ctx.report_progress(self.value, self.total, message)
        except Exception:  # noqa: BLE001 - progress is best effort
            pass


async def _project_dir(ctx: Context | None) -> Path:
    """Where relative output dirs resolve: the client's project, else a user data directory."""
    project = os.environ.get("CLAUDE_PROJECT_DIR")
    if project and Path(project).is_dir():
        return Path(project)
    root = await _first_root(ctx)
    if root is not None:
        return root
    cwd = Path.cwd()
    if not _is_plugin_dir(cwd) and cwd != Path(cwd.anchor) and cwd != Path.home():
        return cwd
    return user_data_dir()


async def _first_root(ctx: Context | None) -> Path | None:
    if ctx is None:
        return None
    try:
        session = ctx.session
        capabilities = session.client_capabilities
        if capabilities is None or capabilities.roots is None:
            return None
        with warnings.catch_warnings(), anyio.fail_after(3):
            warnings.simplefilter("ignore")
            roots = await session.list_roots()
    except Exception:  # noqa: BLE001 - roots are a hint; any failure means "unknown"
        return None
    for root in roots.roots:
        path = path_from_file_uri(str(root.uri))
        if path is not None and path.is_dir():
            return path
    return None


def _is_plugin_dir(path: Path) -> bool:
    """A plugin install folder or a client's own state folder (Codex may start servers in ~/.codex)."""
    if (path / ".claude-plugin").is_dir() or (path / ".codex-plugin").is_dir():
        return True
    try:
        inside_home = path.resolve().relative_to(Path.home().resolve())
    except ValueError:
        inside_home = None
    if inside_home is not None and any(part.startswith(".") for part in inside_home.parts):
        return True
    return "plugins/cache" in path.as_posix()


def _with_output_dir(settings: Settings, base: Path) -> Settings:
    out = Path(settings.output_dir).expanduser()
    return replace(settings, output_dir=str(out if out.is_absolute() else (base / out)))


def _notices(jobs: Jobs | None, skip: str | None = None, caller: Caller | None = None) -> list[str]:
    """Outcomes of this caller's earlier jobs whose calls did not get them (cancelled, timed out, lost)."""
    if jobs is None or card.card_call():
        return []
    from .replies import notice_lines
    records = [r for r in jobs.unreported(caller.owner if caller else None) if r["id"] != skip]
    for record in records:
        if record.get("status") != "running":
            jobs.mark_reported(record["id"])
    return notice_lines(records, caller.link if caller else None)


def _scrubbed(result: CallToolResult, caller: Caller | None) -> CallToolResult:
    if caller is not None:
        for block in result.content:
            if isinstance(block, TextContent):
                block.text = caller.scrub(block.text)
    return result


def _text_result(text: str, *, error: bool = False, extra: list | None = None,
                 structured: dict | None = None) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text), *(extra or [])],
                          structured_content=structured, is_error=error)


def _pending(job: Job, jobs: Jobs, caller: Caller | None = None) -> str:
    from .replies import pending_text
    text = pending_text(job)
    for progress in job.progress if caller else ():
        if progress.path:  # the last event may be "Saved <path>."
            text = text.replace(progress.path, caller.link(progress.path))
    return "\n".join([text, *_notices(jobs, skip=job.id, caller=caller)])


async def _image_result(result: GenerationResult, settings: Settings, jobs: Jobs,
                        caller: Caller | None = None, joined: str | None = None) -> CallToolResult:
    from .replies import success_text
    text = "\n".join([success_text(result, caller.link if caller else None), *([joined] if joined else []),
                      *_notices(jobs, caller=caller)])
    previews = []
    if settings.mcp_preview_size:
        from ..images.pillow import preview
        for path in result.image_paths[:4]:
            made = await anyio.to_thread.run_sync(preview, path, settings.mcp_preview_size,
                                                  settings.mcp_preview_max_bytes)
            if made is not None:
                previews.append(ImageContent(type="image", data=base64.b64encode(made.data).decode("ascii"),
                                             mime_type=made.mime_type))
    structured = result.to_dict() if settings.mcp_structured and caller is None else None  # it holds paths
    return _text_result(text, extra=previews, structured=structured)


def _failed(result: GenerationResult, jobs: Jobs | None, ctx: Context | None = None,
            caller: Caller | None = None, joined: str | None = None) -> CallToolResult:
    from ..clients.host import claude_plugin, client_name
    from .replies import failure_text
    try:
        client = client_name(ctx.session) if ctx is not None else None
    except Exception:  # noqa: BLE001 - outside a request there is no session; the advice stays general
        client = None
    return _text_result("\n".join([failure_text(result, claude_plugin(client), caller.link if caller else None),
                                   *([joined] if joined else []), *_notices(jobs, caller=caller)]), error=True)


async def _from_record(record: dict, jobs: Jobs, settings: Settings, caller: Caller | None = None,
                       joined: str | None = None) -> CallToolResult:
    """A job of an earlier server, as its own call would have returned it, preview included."""
    from .worker import read_result
    result = read_result(jobs.dir, record["id"]) if record.get("status") == "done" else None
    if result is None:
        return _record_result(record, jobs, caller, joined)
    jobs.mark_reported(record["id"])
    return await _image_result(result, settings, jobs, caller, joined) if result.ok else \
        _failed(result, jobs, None, caller, joined)


def _record_result(record: dict, jobs: Jobs, caller: Caller | None = None, joined: str | None = None) -> CallToolResult:
    """The outcome of a job a call asks for by id (or joins), from its record on disk."""
    from .background import record_tags
    from .replies import notice_lines
    extra = [joined] if joined else []
    if record.get("status") == "running":
        return _text_result("\n".join([f"Job {record['id']} is still waiting for a free slot in another server; its "
                                       "image will be saved there. Call again later with the same job_id.", *extra]))
    jobs.mark_reported(record["id"])
    link = caller.link if caller else None
    if record.get("ok"):
        tags = record_tags(record, link)
        if tags:
            where = ", ".join(link(p) if link else p for p in record["image_paths"])
            return _text_result("\n".join([*tags, f"{'Download' if link else 'Saved'} {where} "
                                            f"({record.get('actual_size')}, {record.get('output_format')}).", *extra]))
    return _text_result("\n".join([notice_lines([record], link)[0], *extra]), error=True)


def main(argv: list[str] | None = None) -> int:
    utf8_stdio()  # stderr logs carry prompts; the SDK writes its protocol as UTF-8 itself
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["token"]:
        from .tokens import command
        return command(argv[1:])
    from . import remote
    parser = argparse.ArgumentParser(prog="image-relay-mcp", description="MCP server with one tool, generate_image. "
                                     "'image-relay-mcp token add|list|remove' manages a shared server's tokens.")
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only (loopback by default)")
    parser.add_argument("--port", type=int, default=8765, help="streamable-http only")
    parser.add_argument("--wait-default", type=float, metavar="SECONDS",
                        help="default for IMAGE_RELAY_MCP_WAIT_SECONDS (the plugin sets it below its tool timeout)")
    parser.add_argument("--version", action="version", version=f"image-relay-mcp {__version__}")
    remote.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.wait_default:
        _FALLBACK["IMAGE_RELAY_MCP_WAIT_SECONDS"] = str(args.wait_default)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="image-relay-mcp: %(message)s")
    if args.transport == "stdio":
        server.run()
        return 0
    options = remote.options_from(args)
    refused = remote.refusal(options)
    if refused:
        print(f"image-relay-mcp: {refused}", file=sys.stderr)
        return 3  # a configuration error (ExitCode.CONFIG)
    # The HTTP server's access log defaults to stdout; all logs belong on stderr.
    sys.stdout = sys.stderr
    remote.serve(server, options)
    return 0


if __name__ == "__main__":
    sys.exit(main())

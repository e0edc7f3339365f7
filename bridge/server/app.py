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
import logging
import sys
from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from .. import __version__
from ..paths import user_state_dir
from ..system.console import utf8_stdio
from . import answers, calls, card, tasks
from .audience import audience_of

if TYPE_CHECKING:
    from .background import Jobs

DESCRIPTION = """Generate or edit an image through the user's own OpenAI-compatible image relay and save it locally.

Generation usually takes one to three minutes: call once. If your client says the call goes on in the background (a server-side task, or a call moved to the background after two minutes, as Claude Code does), the image comes by itself later as a notification that starts with its tag: keep working meanwhile and do not call again for it (stopping that background task does not stop the generation the relay already bills). If the result says the image is still being generated, call again with the job_id it gives (do not start a new generation: that is billed again).
On success the result's first line is a markdown image tag for the saved file: always put that tag in your reply, on a line of its own, so the user sees the image; a preview of the image is attached for you to look at.
With `image_paths` the call is an edit of those images (optionally with `mask_path`: transparent pixels, or white on black, mark the area to change). To change an image this tool made earlier ("now make it night"), pass `edit_of` with its saved path (or job id) and say only what to change. When the server runs on another machine (its results give http links, not paths), send the images themselves in `images` (base64) instead, or the img_... id of an image it made for you. On failure the result says the error code, the message and what to do next.
Shape: `size` (WIDTHxHEIGHT) or `aspect_ratio` (e.g. 16:9) with `resolution` (1K, 2K, 4K): Gemini image models ("Nano Banana") take the ratio and resolution; GPT image models get the nearest size they take.
Which `api_mode` fits (pass it only when the user asks or the configured one fails):
| api_mode | fits |
|---|---|
| responses | GPT image models on relays with the Responses API (progress, partial images) |
| images | GPT image models and others on the Images API |
| chat | image models sold over Chat Completions: OpenRouter, LiteLLM, new-api, "reverse" gpt-image-2 |
| gemini | Gemini image models (Nano Banana) on relays serving Gemini's native API (new-api and its kin) |
| auto | picks by the configured model |
Never print the API key, headers or relay URLs."""

# Claude Code (2.1.332) defers plugin tools behind its ToolSearch, which scores a query's words against
# the tool's name, description and this hint, each word matched whole (a JavaScript \b...\b, ASCII-only):
# a Chinese word counts only between ASCII word characters, hence the underscores.
SEARCH_HINT = "image picture photo draw drawing paint illustration art _图片_图像_画图_绘图_照片_插图_"


class _Server(MCPServer):
    async def get_prompt(self, name, arguments=None, context=None):
        # The server has no prompts: an unknown name is invalid params, not a crash logged with a traceback.
        if self._prompt_manager.get_prompt(name) is None:
            from mcp.shared.exceptions import MCPError
            from mcp.types import INVALID_PARAMS
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {name[:80]}")
        return await super().get_prompt(name, arguments, context)

    async def list_tools(self):
        # The sizes named are those of the image model configured now (it may change between listings).
        tool = self._tool_manager.get_tool("generate_image")
        if tool is not None:
            tool.description = f"{DESCRIPTION}\n{_model_sizes()}"
        return await super().list_tools()


def _settings():
    from ..config import load_settings
    return load_settings(fallback=_FALLBACK)


def _model_sizes() -> str:
    from ..errors import BridgeError
    from ..relay.models import sizes_text
    try:
        return sizes_text(_settings().image_model)
    except BridgeError:
        return sizes_text(None)


_card = card.Card(lambda: _jobs())  # only clients that render MCP Apps see it
_tasks = tasks.Tasks(lambda: _jobs(), lambda: _settings())  # only clients that declare the extension see it
# What to do with a result is said here and in the description, which every client's model reads as
# instructions: Gemini CLI wraps tool results in <untrusted_context> and tells its model to ignore
# directives inside; the result itself still leads with the tag.
server = _Server("image-relay-bridge", version=__version__,
                 instructions="Use generate_image to create or edit images. Its result starts with a markdown image "
                              "tag for the saved file: put that tag in your reply, on a line of its own, so the user "
                              "sees the image. If a result says the image is still being generated, call again with "
                              "its job_id instead of starting a new, billed generation; if the client runs the call "
                              "in the background, its image arrives later as a notification.",
                 extensions=[_card, _tasks])
_card.install(server)


@server.tool(name="generate_image", description=DESCRIPTION, meta={"anthropic/searchHint": SEARCH_HINT},
             annotations=ToolAnnotations(title="Generate image", readOnlyHint=False, destructiveHint=False,
                                         idempotentHint=False, openWorldHint=True))
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
    api_mode: Annotated[Literal["responses", "images", "chat", "gemini", "auto"] | None, Field(description="Relay API to use (see the table in the tool description). Default: the configured mode. Change only when the user asks or the relay lacks the configured one.")] = None,
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

    args = dict(locals())  # the call's arguments by name, for the steps below
    reader = audience_of(ctx)  # the local user, or a shared server's authenticated caller
    jobs = _jobs()
    joined = None
    try:
        settings = load_settings({"IMAGE_RELAY_API_MODE": api_mode}, fallback=_FALLBACK)
        jobs.max_jobs = settings.mcp_max_jobs
        if job_id:
            found = _earlier_job(jobs, job_id, reader)
        else:
            request, settings, base = await calls.resolve_inputs(args, reader, settings, jobs, ctx)
            found, joined = await calls.join_or_start(reader, jobs, request, settings, base)
    except BridgeError as error:
        return answers.refused(error, jobs, reader, ctx)
    if isinstance(found, dict):  # a job of an earlier server: finished, lost, or queued there
        return await answers.from_record(found, jobs, settings, reader, joined)
    handed = tasks.hand_over(found, joined)  # a client that takes tasks polls the job instead of waiting here
    if handed is not None:
        return handed
    await calls.wait(found, settings, ctx, reader)
    return await answers.settled(found, settings, jobs, reader, ctx, joined)


def _earlier_job(jobs: Jobs, job_id: str, reader):
    """The reader's job a ``job_id`` names (a live Job or a record); InputError when there is none."""
    from ..errors import InputError
    found = jobs.get(job_id.strip(), reader.owner)
    if found is None:
        raise InputError(f"There is no image job {job_id.strip()[:40]!r} for you on this server; call "
                         "generate_image without job_id to start a new generation.")
    found = jobs.revive(found)  # stopped while the relay's async task ran: its image is polled for, not paid again
    card.note(found)
    return found


_FALLBACK: dict[str, str] = {}  # defaults from the server's command line (the plugin's entry)
_JOBS: list = []


def _jobs() -> Jobs:
    if not _JOBS:
        from .background import Jobs
        from .runner import resume
        _JOBS.append(Jobs(user_state_dir() / "jobs", resume=resume))
    return _JOBS[0]


def main(argv: list[str] | None = None) -> int:
    utf8_stdio()  # stderr logs carry prompts; the SDK writes its protocol as UTF-8 itself
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["token"]:
        from .tokens import command
        return command(argv[1:])
    args = parse_arguments(argv)
    if args.wait_default:
        _FALLBACK["IMAGE_RELAY_MCP_WAIT_SECONDS"] = str(args.wait_default)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="image-relay-mcp: %(message)s")
    if args.transport == "stdio":
        server.run()
        return 0
    from . import remote
    options = remote.options_from(args)
    refused = remote.refusal(options)
    if refused:
        print(f"image-relay-mcp: {refused}", file=sys.stderr)
        return 3  # a configuration error (ExitCode.CONFIG)
    # The HTTP server's access log defaults to stdout; all logs belong on stderr.
    sys.stdout = sys.stderr
    remote.serve(server, options)
    return 0


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The command line; the shared server's options (and their module) only when they can apply,
    so a stdio start loads nothing of the shared server."""
    parser = argparse.ArgumentParser(prog="image-relay-mcp", description="MCP server with one tool, generate_image. "
                                     "'image-relay-mcp token add|list|remove' manages a shared server's tokens.")
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only (loopback by default)")
    parser.add_argument("--port", type=int, default=8765, help="streamable-http only")
    parser.add_argument("--wait-default", type=float, metavar="SECONDS",
                        help="default for IMAGE_RELAY_MCP_WAIT_SECONDS (the plugin sets it below its tool timeout)")
    parser.add_argument("--version", action="version", version=f"image-relay-mcp {__version__}")
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--transport")
    if probe.parse_known_args(argv)[0].transport == "streamable-http" or {"-h", "--help"} & set(argv):
        from . import remote
        remote.add_arguments(parser)
    return parser.parse_args(argv)

if __name__ == "__main__":
    sys.exit(main())

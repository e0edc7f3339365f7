"""image-relay-mcp: the MCP server agents call. One tool, ``generate_image``.

The blocking core runs in a worker thread, so calls run concurrently and pings and
cancellation keep working; a cancelled call (``notifications/cancelled`` or a closed client)
shuts its upstream socket down. Progress comes from the same Reporter as the CLI's, plus a
heartbeat while the relay is silent. stdout carries protocol only; logs go to stderr.
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
from typing import Annotated, Literal
from urllib.parse import unquote, urlparse

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from . import __version__
from .config import Settings, load_settings
from .core import generate_image as run_job
from .errors import BridgeError
from .job import GenerationRequest
from .paths import user_data_dir
from .progress import Progress
from .result import GenerationResult
from .transport import CancelToken

HEARTBEAT_SECONDS = 5.0
log = logging.getLogger("image-relay-mcp")

DESCRIPTION = """Generate or edit an image through the user's own OpenAI-compatible image relay and save it locally.

Generation usually takes one to three minutes: call once and wait; progress notifications show it is alive. Do not call again while a call is running.
On success, show the image to the user by putting the result's `markdown_image` in your reply (it points at the saved file); `image_path` is the absolute path.
With `image_paths` the call is an edit of those images (optionally with `mask_path`). On failure the result has `ok: false` and an `error` with `code` and `message`: invalid_input -> fix the arguments; config_missing -> the user must configure the relay; rejected/moderation_blocked -> change the prompt; quota_exceeded -> tell the user; idle_timeout/deadline/relay_error -> may be retried once later, with the user's consent (it may have been billed); a message naming IMAGE_RELAY_STREAM=false -> tell the user a gateway cannot stream and to set it; stream_broken -> a partial image was kept in `image_path`.
Never print the API key, headers or relay URLs."""

server = MCPServer("image-relay-bridge", version=__version__,
                   instructions="Use generate_image to create or edit images; show its markdown_image to the user.")


@server.tool(name="generate_image", description=DESCRIPTION, annotations=ToolAnnotations(
    title="Generate image", readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True))
async def generate_image(
    prompt: Annotated[str, Field(description="What to draw, or for an edit what to change. Plain language; up to 32000 characters.")],
    image_paths: Annotated[list[str] | None, Field(description="Absolute paths of up to 16 PNG/JPEG/WebP images to edit. Omit to generate a new image.")] = None,
    mask_path: Annotated[str | None, Field(description="Absolute path of a PNG mask the size of the first image; transparent pixels mark the area to change. Only with image_paths.")] = None,
    size: Annotated[str | None, Field(description="'auto' or WIDTHxHEIGHT, e.g. 1024x1024, 1536x1024 (landscape), 1024x1536 (portrait). Default: the configured size (auto).")] = None,
    quality: Annotated[Literal["auto", "low", "medium", "high"] | None, Field(description="Rendering quality; low is fastest. Default: the configured quality (high).")] = None,
    output_format: Annotated[Literal["png", "jpeg", "webp"] | None, Field(description="File format. Default: the configured format (png).")] = None,
    background: Annotated[Literal["auto", "opaque", "transparent"] | None, Field(description="'transparent' needs png or webp. Default: the configured background (auto).")] = None,
    output_compression: Annotated[int | None, Field(ge=0, le=100, description="0-100, for jpeg and webp only. Default: the configured value (100).")] = None,
    partial_images: Annotated[int | None, Field(ge=0, le=3, description="0-3 progressive previews, saved as they arrive. Default: the configured value (0).")] = None,
    n: Annotated[int | None, Field(ge=1, le=10, description="Number of images, 1-10. Default 1. More than 1 uses the Images API.")] = None,
    api_mode: Annotated[Literal["responses", "images", "auto"] | None, Field(description="Relay API to use. Default: the configured mode. Change only when the user asks or a relay has no Responses API.")] = None,
    negative_prompt: Annotated[str | None, Field(description="What to avoid; sent only when the relay policy is 'compat'.")] = None,
    seed: Annotated[int | None, Field(ge=0, le=4294967295, description="Random seed; sent only when the relay policy is 'compat'.")] = None,
    output_name: Annotated[str | None, Field(description="A short file-name stem for the saved image instead of one made from the prompt (no slashes).")] = None,
    use_prompt_template: Annotated[bool, Field(description="Wrap the prompt in the user's configured prompt template. Default true; false sends the prompt exactly as written.")] = True,
    ctx: Context = None,
) -> CallToolResult:
    flags = {"IMAGE_RELAY_API_MODE": api_mode}
    request = GenerationRequest(
        prompt=prompt, image_paths=tuple(image_paths or ()), mask_path=mask_path, size=size, quality=quality,
        output_format=output_format, background=background, output_compression=output_compression,
        partial_images=partial_images, n=n or 1, negative_prompt=negative_prompt, seed=seed,
        use_template=use_prompt_template, output_name=output_name)
    try:
        settings = load_settings(flags)
    except BridgeError as error:
        return _error_result(GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(),
                                              exit_code=int(error.exit_code)))
    base = await _project_dir(ctx)
    settings = _with_output_dir(settings, base)
    result = await _run_in_thread(request, settings, base, ctx)
    return _tool_result(result, settings) if result.ok else _error_result(result)


async def _run_in_thread(request: GenerationRequest, settings: Settings, base: Path, ctx: Context | None):
    """Run the blocking job off the event loop, relaying its progress and a heartbeat."""
    cancel = CancelToken()
    ticker = _Ticker(ctx)

    def on_progress(progress: Progress) -> None:
        try:
            anyio.from_thread.run(ticker.send, progress.step, progress.total, progress.message)
        except Exception:  # noqa: BLE001 - a client that went away must not break the job
            pass

    def work() -> GenerationResult:
        return run_job(request, settings, on_progress=on_progress, cancel=cancel, base_dir=base)

    async with anyio.create_task_group() as group:
        group.start_soon(ticker.heartbeat)
        try:
            result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.cancel()  # shuts the relay socket down: the worker returns at once
            log.info("generate_image was cancelled; the upstream request was stopped")
            raise
        finally:
            group.cancel_scope.cancel()
    return result


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
        uri = urlparse(str(root.uri))
        if uri.scheme == "file" and Path(unquote(uri.path)).is_dir():
            return Path(unquote(uri.path))
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


def _tool_result(result: GenerationResult, settings: Settings) -> CallToolResult:
    data = result.to_dict()
    lines = [data["markdown_image"], f"Saved to {data['image_path']} ({data['actual_size']}, {data['output_format']}, "
                                     f"{data['bytes']} bytes)."]
    lines += [f"Also saved: {p}" for p in data["image_paths"][1:]]
    lines += [f"Warning: {w}" for w in data["warnings"]]
    content: list = [TextContent(type="text", text="\n".join(lines))]
    content += [ResourceLink(type="resource_link", uri=Path(p).as_uri(), name=Path(p).name,
                             mime_type=f"image/{result.output_format}") for p in result.image_paths]
    limit = settings.mcp_inline_image_max_bytes
    if limit and result.bytes and result.bytes <= limit:
        raw = Path(result.image_paths[0]).read_bytes()
        content.append(ImageContent(type="image", data=base64.b64encode(raw).decode("ascii"),
                                    mime_type=f"image/{result.output_format}"))
    return CallToolResult(content=content, structured_content=data, is_error=False)


def _error_result(result: GenerationResult) -> CallToolResult:
    data = result.to_dict()
    error = data["error"]
    text = f"Image generation failed ({error['code']}): {error['message']}"
    if data.get("markdown_image"):
        text += f"\nThe best partial image was kept:\n{data['markdown_image']}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data, is_error=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="image-relay-mcp", description="MCP server with one tool, generate_image.")
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only (loopback by default)")
    parser.add_argument("--port", type=int, default=8765, help="streamable-http only")
    parser.add_argument("--version", action="version", version=f"image-relay-mcp {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="image-relay-mcp: %(message)s")
    if args.transport == "stdio":
        server.run()
    else:
        # The HTTP server's access log defaults to stdout; all logs belong on stderr.
        sys.stdout = sys.stderr
        server.run("streamable-http", host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

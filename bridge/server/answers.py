"""A generate_image call's answer as the MCP result the client receives: the text of ``replies``,
the preview image blocks, the notices of the reader's earlier jobs, and nothing of the server's
folders for a shared server's caller (``audience``)."""
from __future__ import annotations

import base64

import anyio.to_thread
from mcp.types import CallToolResult, ImageContent, TextContent

from . import card
from .background import record_tags, saved_result
from .replies import failure_text, notice_lines, pending_text, success_text


def text_result(text: str, *, error: bool = False, extra: list | None = None,
                structured: dict | None = None) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text), *(extra or [])],
                          structured_content=structured, is_error=error)


def scrubbed(result: CallToolResult, reader) -> CallToolResult:
    for block in result.content:
        if isinstance(block, TextContent):
            block.text = reader.scrub(block.text)
    return result


def notices(jobs, reader, skip: str | None = None) -> list[str]:
    """Outcomes of the reader's earlier jobs whose calls did not get them (cancelled, timed out, lost)."""
    if jobs is None or card.card_call():
        return []
    records = [r for r in jobs.unreported(reader.owner) if r["id"] != skip]
    for record in records:
        if record.get("status") != "running":
            jobs.mark_reported(record["id"])
    return notice_lines(records, reader.file_link)


async def image(result, settings, jobs, reader, joined: str | None = None) -> CallToolResult:
    """A finished image: the tags and facts, then a preview of each image (up to four)."""
    text = "\n".join([success_text(result, reader.file_link), *([joined] if joined else []),
                      *notices(jobs, reader)])
    previews = []
    if settings.mcp_preview_size:
        from ..images.pillow import preview
        for path in result.image_paths[:4]:
            made = await anyio.to_thread.run_sync(preview, path, settings.mcp_preview_size,
                                                  settings.mcp_preview_max_bytes)
            if made is not None:
                previews.append(ImageContent(type="image", data=base64.b64encode(made.data).decode("ascii"),
                                             mime_type=made.mime_type))
    structured = result.to_dict() if settings.mcp_structured and reader.file_link is None else None  # it holds paths
    return scrubbed(text_result(text, extra=previews, structured=structured), reader)


def failed(result, jobs, reader, ctx=None, joined: str | None = None, job_id: str | None = None) -> CallToolResult:
    from ..clients.host import claude_plugin, client_name
    try:
        client = client_name(ctx.session) if ctx is not None else None
    except Exception:  # noqa: BLE001 - outside a request there is no session; the advice stays general
        client = None
    text = "\n".join([failure_text(result, claude_plugin(client), reader.file_link, job_id),
                      *([joined] if joined else []),
                      *notices(jobs, reader)])
    return scrubbed(text_result(text, error=True), reader)


def refused(error, jobs, reader, ctx=None) -> CallToolResult:
    """A call stopped before anything was sent (bad input, settings, a caller's limit)."""
    from ..result import GenerationResult
    return failed(GenerationResult(ok=False, elapsed_seconds=0.0, error=error.to_dict(),
                                   exit_code=int(error.exit_code)), jobs, reader, ctx)


async def settled(job, settings, jobs, reader, ctx=None, joined: str | None = None) -> CallToolResult:
    """A job this call waited for: its result, or the image it saved while the relay still talks,
    or where it stands and how to wait on."""
    result = job.result if job.done.is_set() else saved_result(job)
    if result is None:
        text = "\n".join([pending_text(job), *([joined] if joined else []), *notices(jobs, reader, skip=job.id)])
        return scrubbed(text_result(_linked(text, job, reader)), reader)
    jobs.delivered(job, result)
    return await image(result, settings, jobs, reader, joined) if result.ok else \
        failed(result, jobs, reader, ctx, joined, job.id)


async def from_record(record: dict, jobs, settings, reader, joined: str | None = None) -> CallToolResult:
    """A job of an earlier server, as its own call would have returned it, preview included."""
    from .worker import read_result
    result = read_result(jobs.dir, record["id"]) if record.get("status") == "done" else None
    if result is None:
        return scrubbed(_record_text(record, jobs, reader, joined), reader)
    jobs.mark_reported(record["id"])
    return await image(result, settings, jobs, reader, joined) if result.ok else \
        failed(result, jobs, reader, None, joined, record["id"])


def _record_text(record: dict, jobs, reader, joined: str | None) -> CallToolResult:
    extra = [joined] if joined else []
    if record.get("status") == "running":
        return text_result("\n".join([f"Job {record['id']} is still waiting for a free slot in another server; "
                                      "its image will be saved there. Call again later with the same job_id.",
                                      *extra]))
    jobs.mark_reported(record["id"])
    link = reader.file_link
    if record.get("ok"):
        tags = record_tags(record, link)
        if tags:
            where = ", ".join(link(p) if link else p for p in record["image_paths"])
            return text_result("\n".join([*tags, f"{'Download' if link else 'Saved'} {where} "
                                          f"({record.get('actual_size')}, {record.get('output_format')}).", *extra]))
    return text_result("\n".join([notice_lines([record], link)[0], *extra]), error=True)


def _linked(text: str, job, reader) -> str:
    """A pending text names the last event, which may be "Saved <path>.": a caller gets its link."""
    for progress in job.progress if reader.file_link else ():
        if progress.path:
            text = text.replace(progress.path, reader.file_link(progress.path))
    return text

"""What the model reads from a generate_image call: compact text and small previews.

Measured in Claude Code and Codex: with ``structuredContent`` present both clients hand the model
its JSON instead of the text, and Codex drops image blocks; without it, both pass text verbatim
and image blocks byte for byte. So the text leads with the markdown image tag, stays a few
hundred characters, and the pixels come as a downscaled preview, never the full file.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .background import Job, record_tags
from ..history.running import for_model
from ..result import GenerationResult, markdown_image

# What the model should do next, by error code; the message itself says what happened.
_NEXT = {
    "invalid_input": "Fix the argument the message names and call again; nothing was sent.",
    "config_missing": "Tell the user to run image-relay-setup in a terminal (it checks the relay and writes the user "
                      "config file); never ask for the key in chat.",
    "config_invalid": "Tell the user which setting to correct in the user config file.",
    "unauthorized": "Tell the user the relay refused their key; do not retry.",
    "upstream_unauthorized": "Tell the user the gateway's own upstream key was refused; its operator must fix it.",
    "quota_exceeded": "Tell the user the relay account is out of credit; do not retry.",
    "rate_limited": "Wait a minute, then call once more.",
    "moderation_blocked": "Offer the user a reworded prompt; do not try to get around the filter.",
    "stream_broken": "Show the partial image above, say it is incomplete, and offer to generate again (billed).",
    "interrupted": "The job was stopped; do not restart it unless the user asks.",
    "lost": "Its server stopped while it ran; show the partial image if any, and ask before generating again.",
}
_DEFAULT_NEXT = "Tell the user what failed; call again only if they agree (the attempt may have been billed)."
# Only Claude Code's plugin has settings of its own.
_CLAUDE_PLUGIN_NEXT = {"config_missing": " In Claude Code, /plugin configure image-relay-bridge@image-relay-bridge "
                                         "also sets the relay."}


def success_text(result: GenerationResult, link: Callable[[str], str] | None = None) -> str:
    """``link`` turns a saved path into what a remote caller gets instead: its download link."""
    where = link or (lambda p: p)
    _url = {"windows": False} if link else {}  # a link is a URL on every platform, never a file URI
    tags = [markdown_image(where(p), result.alt_text, **_url) for p in result.image_paths]
    lines = list(tags)
    for path in result.image_paths:
        size = Path(path).stat().st_size if Path(path).is_file() else result.bytes
        if link:
            lines.append(f"Download {where(path)} ({result.actual_size}, {result.output_format}, {size} bytes; send "
                         "the same Authorization header as to this server).")
        else:
            lines.append(f"Saved {path} ({result.actual_size}, {result.output_format}, {size} bytes).")
    lines += [f"Warning: {w}" for w in result.warnings]
    lines.append("Show the image to the user with the markdown tag above." if len(tags) == 1 else
                 "Show the images to the user with the markdown tags above.")
    from ..relay.usage import text as usage_text
    spent = usage_text(result.usage)
    if spent:
        lines.append(spent)  # what the relay says the call cost: the last of the result's own lines
    if not link:  # a remote caller's images are links already; the library is the server machine's
        lines.append(for_model(result.image_paths))
    return "\n".join(lines)


def failure_text(result: GenerationResult, claude_plugin: bool = False,
                 link: Callable[[str], str] | None = None, job_id: str | None = None) -> str:
    where = link or (lambda p: p)
    _url = {"windows": False} if link else {}
    error = result.error or {}
    code = error.get("code", "error")
    lines = [f"Image generation failed ({code}): {error.get('message', '')}"]
    for url in error.get("image_urls") or ():  # made and billed, but its link failed: the user may still fetch it
        lines.append(f"The relay's link to the image (it may expire soon): {url}")
    if error.get("task_id"):
        again = f'job_id="{job_id}"' if job_id else "this job's job_id"
        lines.append(f"Next: call generate_image again with {again} to fetch the image of the relay's task "
                     f"{error['task_id']} without a new, billed generation.")
        return "\n".join(lines)
    if result.image_paths:  # exit 9: the best partial stands in for the image
        lines.append(f"The best partial image was kept: {markdown_image(where(result.image_paths[0]), result.alt_text, **_url)}")
    elif result.partial_image_paths:
        lines.append(f"A partial image was kept: {markdown_image(where(result.partial_image_paths[-1]), result.alt_text, **_url)}")
    if not link and (result.image_paths or result.partial_image_paths):
        lines.append(for_model(result.image_paths or result.partial_image_paths[-1:]))
    lines.append(f"Next: {_NEXT.get(code, _DEFAULT_NEXT)}{_CLAUDE_PLUGIN_NEXT.get(code, '') if claude_plugin else ''}")
    return "\n".join(lines)


def pending_text(job: Job) -> str:
    return (f"The image is still being generated (job {job.id}, {job.elapsed():.0f} s so far; last from the relay: "
            f"{job.last_event}) Call generate_image again with job_id=\"{job.id}\" (the prompt may be repeated, it "
            "is ignored) to keep waiting. Do not start a new generation: it would be billed again."
            + (_DIES_WITH_CLIENT if job.dies_with_client else ""))


# Windows, where the worker could not leave the job object the client keeps this server in.
_DIES_WITH_CLIENT = (" Warning: this client runs the image server in a Windows job object that the generation could "
                     "not leave: closing the client (or restarting this server) now would lose the image, which the "
                     "relay may still bill. Tell the user to keep the client open until the image arrives.")


def notice_lines(records: list[dict], link: Callable[[str], str] | None = None) -> list[str]:
    """Jobs whose own call did not get their outcome: cancelled, timed out, or lost with a server."""
    lines = []
    for record in records:
        tags = record_tags(record, link)
        prompt = record.get("prompt", "")
        if record.get("status") == "running":
            lines.append(f"Earlier job {record['id']} (\"{prompt}\") is still running after its call was cancelled or "
                         f"timed out: call generate_image with job_id=\"{record['id']}\" to get its image instead of "
                         "generating it again.")
        elif record.get("status") == "saved":
            lines.append(f"Earlier job {record['id']} (\"{prompt}\") has saved its image (the relay has not closed "
                         f"its answer yet): {' '.join(tags)}")
        elif record.get("status") == "lost":
            lines.append(f"Earlier job {record['id']} (\"{prompt}\") was lost when its server stopped"
                         + (f"; its best partial image: {tags[0]}" if tags else "; nothing was saved."))
        elif record.get("ok"):
            lines.append(f"Earlier job {record['id']} (\"{prompt}\") finished after its call was cancelled or "
                         f"timed out: {' '.join(tags)}")
        else:
            error = record.get("error") or {}
            lines.append(f"Earlier job {record['id']} (\"{prompt}\") failed after its call ended "
                         f"({error.get('code')}): {error.get('message', '')}")
    return lines

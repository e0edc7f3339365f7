"""Per-request options carried in the URL path, between the host and ``/v1``.

``http://host:port/fault=http-500-json/chunk=128/v1`` is an ordinary base URL for any
OpenAI-compatible client, so a test can pick a relay behaviour without touching the client.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


def split_options(raw_path: str) -> tuple[dict[str, str], str, str, str]:
    """Return (options, option prefix, path, query) for a request target.

    ``/fault=x/times=1/v1/models?a=b`` gives ``({"fault": "x", "times": "1"}, "fault=x/times=1",
    "/v1/models", "a=b")``. Only leading ``key=value`` segments are options.
    """
    path, _, query = raw_path.partition("?")
    segments = path.split("/")
    options: dict[str, str] = {}
    used: list[str] = []
    index = 1
    while index < len(segments) and "=" in segments[index]:
        key, _, value = segments[index].partition("=")
        options[unquote(key)] = unquote(value)
        used.append(segments[index])
        index += 1
    rest = "/" + "/".join(segments[index:])
    return options, "/".join(used), rest, query


def option_segments(opts: dict[str, object]) -> str:
    """Render options as path segments, in the given order (``True`` becomes ``1``)."""
    out = []
    for key, value in opts.items():
        if value is None or value is False:
            continue
        if value is True:
            value = 1
        out.append(f"{key}={value}")
    return "/".join(out)


@dataclass(frozen=True)
class Options:
    fault: str | None = None
    delay: float = 0.0
    chunk: int | None = None
    close: bool = False
    noise: bool = False
    times: int | None = None
    param: str = "response_format"
    stall: float | None = None
    encoding: str | None = None  # gzip, deflate or deflate-raw: compress every answer
    drip: float | None = None  # write the status line and headers one byte per this many seconds
    filedrip: float | None = None  # write a linked file's body one byte per this many seconds
    stateless: bool = False  # keep no Responses answers: previous_response_id is never found
    shape: str | None = None  # which answer shape a style gives (chat: images, parts, markdown, link, bare; ...)
    split: int | None = None  # chat streams: a Markdown image over this many deltas
    reads: str = "both"  # chat: where the ratio is read: openrouter, newapi or both
    thought: bool = False  # gemini: an interim image marked "thought" before the final one
    task: str | None = None  # answer an async task even unasked, in this relay's shape: newapi, wrapped, mj
    tasktime: float = 1.0  # seconds an async task takes
    retry: str = "1"  # the Retry-After an async task's answers carry
    filehost: str | None = None  # the host name of the links to files (a CDN apart from the relay), e.g. localhost

    @classmethod
    def parse(cls, raw: dict[str, str], *, delay: float, chunk: int | None) -> Options:
        """Read known options; a malformed value falls back to the default rather than failing."""
        chunk_value = _number(raw.get("chunk"), int, chunk)
        return cls(
            fault=raw.get("fault") or None,
            delay=max(0.0, _number(raw.get("delay"), float, delay)),
            chunk=chunk_value if chunk_value and chunk_value > 0 else None,
            close=_flag(raw.get("close")),
            noise=_flag(raw.get("noise")),
            times=_number(raw.get("times"), int, None),
            param=raw.get("param") or "response_format",
            stall=_number(raw.get("stall"), float, None),
            encoding=raw.get("encoding") if raw.get("encoding") in ("gzip", "deflate", "deflate-raw") else None,
            drip=_number(raw.get("drip"), float, None),
            filedrip=_number(raw.get("filedrip"), float, None),
            stateless=_flag(raw.get("stateless")),
            shape=raw.get("shape") or None,
            split=_number(raw.get("split"), int, None),
            reads=raw.get("reads") if raw.get("reads") in ("openrouter", "newapi", "both") else "both",
            thought=_flag(raw.get("thought")),
            task=raw.get("task") or None,
            tasktime=max(0.0, _number(raw.get("tasktime"), float, 1.0)),
            retry=raw.get("retry") or "1",
            filehost=raw.get("filehost") or None,
        )


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def _number(value, kind, default):
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        return default

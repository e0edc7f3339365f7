"""The result contract (SPEC §5): one frozen dataclass, one JSON shape for the CLI and the MCP server."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PureWindowsPath

_PLAIN_DESTINATION = re.compile(r"^[A-Za-z0-9._~/:+=,@%-]+$")


def markdown_image(path: str, alt: str = "image", *, windows: bool = os.name == "nt") -> str:
    """A CommonMark image tag for a saved file.

    On Windows the target is an RFC 8089 URI, ``file:///C:/Users/First%20Last/a.png``: Codex App
    shows a broken image for drive-letter paths (``C:/…``, ``/C:/…``) and mangles ``///C:/…``, and a
    percent-encoded URI is the one standard form every Markdown renderer may resolve. Elsewhere it is
    the absolute path, which Claude Code and Codex resolve; paths with spaces, parentheses, brackets
    or non-ASCII use ``<...>``. The text around a tag gives the plain path too, for the user to open.
    """
    if windows:
        windows_path = PureWindowsPath(path)
        path = windows_path.as_uri() if windows_path.is_absolute() else windows_path.as_posix()
    alt = re.sub(r"\s+", " ", alt).strip()[:80] or "image"
    alt = re.sub(r"([\\\[\]])", r"\\\1", alt)
    if _PLAIN_DESTINATION.match(path):
        return f"![{alt}]({path})"
    destination = re.sub(r"([\\<>])", r"\\\1", path)
    return f"![{alt}](<{destination}>)"


@dataclass(frozen=True)
class GenerationResult:
    ok: bool
    elapsed_seconds: float
    complete: bool = False
    image_paths: tuple[str, ...] = ()
    alt_text: str = "image"
    actual_size: str | None = None
    output_format: str | None = None
    bytes: int | None = None
    revised_prompt: str | None = None
    partial_image_paths: tuple[str, ...] = ()
    api_mode: str | None = None
    model: str | None = None
    usage: dict | None = None
    raw_log_path: str | None = None
    debug_summary: dict | None = None
    warnings: tuple[str, ...] = ()
    response_ids: dict = field(default_factory=dict)  # image path -> the Responses API answer that made it
    error: dict | None = None
    exit_code: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def image_path(self) -> str | None:
        return self.image_paths[0] if self.image_paths else None

    def to_dict(self) -> dict:
        out: dict = {"ok": self.ok, "complete": self.complete}
        if self.error is not None:
            out["error"] = self.error
        if self.image_paths:
            out["image_path"] = self.image_paths[0]
            out["image_paths"] = list(self.image_paths)
            out["markdown_image"] = markdown_image(self.image_paths[0], self.alt_text)
            out["markdown_images"] = [markdown_image(p, self.alt_text) for p in self.image_paths]
        for key in ("actual_size", "output_format", "bytes", "revised_prompt"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.ok or self.partial_image_paths:
            out["partial_image_paths"] = list(self.partial_image_paths)
        for key in ("api_mode", "model"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["elapsed_seconds"] = self.elapsed_seconds
        if self.usage is not None:
            out["usage"] = self.usage
        if self.raw_log_path is not None:
            out["raw_log_path"] = self.raw_log_path
        if self.debug_summary is not None:
            out["debug_summary"] = self.debug_summary
        if self.ok or self.warnings:
            out["warnings"] = list(self.warnings)
        if self.response_ids:
            out["response_ids"] = dict(self.response_ids)
        out.update(self.extra)
        return out

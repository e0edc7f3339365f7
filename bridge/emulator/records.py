"""What the emulator remembers about each request, for tests to inspect."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from .multipart import MultipartError, Part, parse_multipart


class Headers(dict):
    """Request headers with case-insensitive lookup (keys are stored lower-case)."""

    def __init__(self, items=()):
        super().__init__()
        for key, value in items:
            key = key.lower()
            self[key] = f"{self[key]}, {value}" if key in self else value

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default=None):
        return super().get(key.lower(), default)


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the option prefix and the query
    options: dict[str, str]
    headers: Headers
    body: bytes
    query: str = ""
    json: Any = None
    parts: list[Part] = field(default_factory=list)
    parse_error: str | None = None
    at: float = field(default_factory=time.monotonic)  # when it arrived (the pacing of polls)

    def __getitem__(self, key: str):
        return getattr(self, key)  # lets tests treat a record like a dict

    @property
    def form(self) -> dict[str, str]:
        """Text fields of a multipart body (the last value wins)."""
        return {p.name: p.text for p in self.parts if p.filename is None}

    @property
    def files(self) -> list[Part]:
        return [p for p in self.parts if p.filename is not None]

    @classmethod
    def build(cls, method, path, options, headers, body, query) -> RecordedRequest:
        record = cls(method, path, dict(options), Headers(headers.items()), body, query)
        content_type = record.headers.get("content-type", "")
        kind = content_type.split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            try:
                record.parts = parse_multipart(body, content_type)
            except MultipartError as exc:
                record.parse_error = str(exc)
        elif body and (kind.endswith("json") or body.lstrip()[:1] in (b"{", b"[")):
            try:
                record.json = json.loads(body)
            except ValueError as exc:
                record.parse_error = str(exc)
        return record

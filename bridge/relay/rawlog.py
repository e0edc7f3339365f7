"""The raw transcript of one job, for troubleshooting: secrets redacted, base64 replaced."""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from ..errors import redact, redact_secrets
from .call import HttpCall

_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{200,}={0,2}")
_SAFE_HEADERS = ("content-type", "content-length", "transfer-encoding", "x-request-id", "x-api-request-id",
                 "openai-request-id", "openai-processing-ms", "retry-after", "retry-after-ms", "cf-ray")


def placeholder(data: bytes) -> bytes:
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"<base64 {len(data)} chars sha256:{digest}>".encode()


def scrub(data: bytes, secrets: tuple[str, ...]) -> bytes:
    """Base64 payloads become short placeholders; keys and relay addresses become [redacted]."""
    data = _BASE64_RUN.sub(lambda m: placeholder(m.group(0)), data)
    text = data.decode("utf-8", "replace")
    return redact(text, secrets).encode("utf-8")


class RawLog:
    """Appends to ``<output dir>/logs/<stem>.log``; writing it never fails the job."""

    def __init__(self, path: Path, secrets: tuple[str, ...]) -> None:
        self.path = path
        self._secrets = secrets
        self._start = time.monotonic()
        self._handle = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "ab")
        except OSError:
            self._handle = None

    def note(self, text: str) -> None:
        self._write(f"# [{time.monotonic() - self._start:7.2f}s] {text}\n".encode())

    def request(self, call: HttpCall, mode: str) -> None:
        self.note(f"request ({mode} mode)")
        base = "{gemini base}" if call.base else "{base}"
        key = "Authorization: Bearer [redacted]" if call.key_header == "bearer" else f"{call.key_header}: [redacted]"
        lines = [f"{call.method} {base}{call.path}", key, *(f"{name}: {value}" for name, value in call.headers)]
        if call.method == "GET":
            lines.append("")
        elif call.json is not None:
            lines += ["Content-Type: application/json", "", json.dumps(call.json, ensure_ascii=False)]
        else:
            lines += ["Content-Type: multipart/form-data", ""]
            lines += [f"--part {name}: {value}" for name, value in call.fields]
            lines += [f"--part {part}: file {filename} {mime} {len(data)} bytes "
                      f"sha256:{hashlib.sha256(data).hexdigest()[:12]}" for part, filename, data, mime in call.files]
        self._write(("\n".join(lines) + "\n\n").encode("utf-8"))

    def link(self, url: str) -> None:
        """An image link the relay returned, whole: its signature is what lets the user fetch the image
        (and is not a secret of theirs), so only the known secrets are taken out of it."""
        self._write(f"# [{time.monotonic() - self._start:7.2f}s] image link: {url}\n".encode("utf-8", "replace"),
                    shapes=False)

    def response(self, status: int, headers: dict[str, str]) -> None:
        self.note("response")
        shown = [f"{k}: {v}" for k, v in headers.items() if k.lower() in _SAFE_HEADERS]
        self._write(("\n".join([f"HTTP {status}", *shown]) + "\n\n").encode())

    def body(self, data: bytes) -> None:
        self._write(data)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, data: bytes, shapes: bool = True) -> None:
        if self._handle is None:
            return
        try:
            self._handle.write(scrub(data, self._secrets) if shapes else
                               redact_secrets(data.decode("utf-8", "replace"), self._secrets).encode("utf-8"))
            self._handle.flush()
        except OSError:
            self.close()

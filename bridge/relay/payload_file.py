"""One image payload decoded from the base64 text of a JSON string into a temp file, piece by piece.

The payload extractor (``payloads``) finds where such text begins and ends in the byte stream;
here each piece is unescaped (``\\/``, ``\\n`` line breaks, ``\\u002f``), checked, decoded in
multiples of four characters and written, so no image is ever held whole in memory. The hash of
the text and its length are kept for the raw log's placeholder.
"""
from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProtocolError
from ..images import store

_WHITESPACE = b" \t\r\n"
B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_UNICODE_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")
# JSON escapes that stand for a base64 character, as encoders write them (PHP escapes every slash).
_B64_ESCAPES = {b"\\/": b"/", b"\\u002f": b"/", b"\\u002F": b"/", b"\\u002b": b"+", b"\\u002B": b"+",
                b"\\u003d": b"=", b"\\u003D": b"="}
WRITE_STEP = 65536  # base64 characters decoded and written at a time


@dataclass
class Payload:
    """One decoded image payload: a temp file (until it is published or dropped) and its figures."""

    number: int
    key: str
    event_type: str
    path: Path | None = None
    size: int = 0  # decoded bytes
    chars: int = 0  # base64 characters
    sha: str = ""  # of the base64 text, for the raw log's placeholder
    skipped: bool = False
    problem: str | None = None  # not valid base64, over the cap
    markdown: bool = False  # a data URL inside text, right after "](" or "(": it ends at ")"
    continued: bool = False  # went on in a later string, where its placeholder is not repeated

    def placeholder(self) -> bytes:
        return f"__irb_{'skipped' if self.skipped else 'payload'}_{self.number}__".encode()


class Decoding:
    """A payload being decoded: its base64 remainder (under four characters' worth of a step), the
    hash of its text and its temp file."""

    def __init__(self, payload: Payload, directory: Path, limit: int, *, prefixed: bool = False) -> None:
        """``prefixed``: the text may begin with a ``data:image/…;base64,`` header (one-api's Replicate
        adapter writes one inside ``b64_json``), which is skipped."""
        self.payload, self.directory, self.limit = payload, directory, limit
        self._head: bytearray | None = bytearray() if prefixed else None
        self._b64 = bytearray()
        self._hash = hashlib.sha256()
        self._file = None

    def feed(self, span: bytes) -> None:
        payload = self.payload
        if b"\\" in span:
            span = unescape(span)
        clean = span.translate(None, _WHITESPACE)
        if self._head is not None:
            clean = self._past_header(clean)
        if not clean:
            return
        payload.chars += len(clean)
        self._hash.update(clean)
        if payload.skipped or payload.problem:
            return
        if clean.translate(None, B64_ALPHABET):
            self.fail("The relay returned image data that is not valid base64.")
            return
        self._b64 += clean
        usable = len(self._b64) - len(self._b64) % 4
        if usable >= WRITE_STEP:
            self._write(self._b64[:usable])
            del self._b64[:usable]

    def _past_header(self, clean: bytes) -> bytes:
        """What follows a ``data:…;base64,`` header at the start of the text (the text itself if it
        has none); held back while the first characters could still be one."""
        self._head += clean
        head = bytes(self._head)
        if len(head) < 5 and b"data:".startswith(head):
            return b""
        if not head.startswith(b"data:"):
            self._head = None
            return head
        comma = head.find(b",")
        if comma < 0:
            if len(head) > 200:
                self._head = None
                self.fail("The relay returned a data URL whose header never ends.")
            return b""
        self._head = None
        if b";base64" not in head[:comma]:
            self.fail("The relay returned a data URL that is not base64.")
            return b""
        return head[comma + 1:]

    def complete(self) -> None:
        """The payload's text has ended: the rest of its base64 goes to its file, which is closed."""
        if self._head:  # shorter than a data: header: plain (if odd) base64
            held, self._head = bytes(self._head), None
            if held.startswith(b"data:"):
                self.fail("The relay returned a data URL without image data.")
            else:
                self.feed(held)
        self._head = None
        if self._b64 and not self.payload.skipped and not self.payload.problem:
            self._write(self._b64)
        self._b64.clear()
        self._close_file()
        self.payload.sha = self._hash.hexdigest()

    def fail(self, message: str, code: str = "bad_image") -> None:
        payload = self.payload
        if payload.problem is None:
            payload.problem = f"{code}:{message}"
            self._close_file()
            discard(payload)

    def abort(self) -> None:
        """Dropped unfinished (the stream ended or failed): its temp file goes."""
        try:
            self._close_file()
        finally:  # a full disk may fail the close; the temp file goes all the same
            discard(self.payload)

    def _write(self, b64: bytes | bytearray) -> None:
        payload = self.payload
        try:
            decoded = binascii.a2b_base64(bytes(b64), strict_mode=True)
        except (binascii.Error, ValueError):
            self.fail("The relay returned image data that is not valid base64.")
            return
        if payload.size + len(decoded) > self.limit:
            self.fail(f"The relay sent an image larger than {self.limit >> 20} MB; it was not saved.", "too_large")
            raise problem_error(payload)  # stop reading now: the rest is only more of the same
        if self._file is None:
            payload.path, self._file = store.open_temp(self.directory, f"payload-{payload.number}")
        store.write_to(self._file, self.directory, decoded)
        payload.size += len(decoded)

    def _close_file(self) -> None:
        if self._file is not None:
            handle, self._file = self._file, None
            store.close_temp(handle, self.directory)


def discard(payload: Payload) -> None:
    if payload.path is not None:
        try:
            payload.path.unlink()
        except OSError:
            pass
        payload.path = None


def b64_escape(data: bytes, at: int) -> tuple[bytes, int] | bool | None:
    """A JSON escape that stands for a base64 character (``\\/``, ``\\u002f``…): (char, length);
    None when the chunk ends inside it; False for any other escape (it ends a data URL in text)."""
    for raw, char in _B64_ESCAPES.items():
        if data.startswith(raw, at):
            return char, len(raw)
    tail = bytes(data[at:at + 6])
    if len(tail) < 6 and any(raw.startswith(tail) for raw in _B64_ESCAPES):
        return None
    return False


def cut_escape(span: bytes) -> int:
    """Where an escape cut by the chunk's end begins (held for the next chunk), else the length."""
    slash = span.rfind(b"\\", max(0, len(span) - 6))
    if slash < 0:
        return len(span)
    tail = span[slash:]
    complete = len(tail) >= 6 if tail[1:2] == b"u" else len(tail) >= 2
    return len(span) if complete else slash


def unescape(span: bytes) -> bytes:
    """JSON string escapes inside base64: \\/, \\n, \\r, \\t and \\uXXXX; others stay and fail."""
    span = span.replace(b"\\/", b"/").replace(b"\\n", b"").replace(b"\\r", b"").replace(b"\\t", b"")
    if b"\\u" in span:
        span = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)).encode("utf-8"), span)
    return span


def problem_error(payload: Payload) -> ProtocolError:
    code, _, message = (payload.problem or "bad_image:The image data is not valid.").partition(":")
    return ProtocolError(message, code=code)

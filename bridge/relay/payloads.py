"""Image payloads decoded as they arrive, straight into temp files: the base64 of an image never
exists whole in memory.

``Extractor`` sits on the byte stream, before SSE framing and JSON parsing. It finds the JSON
string values that carry images (``result``, ``partial_image_b64``, ``b64_json`` — with or without
a ``data:`` header inside it —, and ``url`` when it is a data URL), decodes their base64 into a temp file in the output directory, and passes
on the rest of the bytes with each such value replaced by a short placeholder
(``__irb_payload_N__``). The event's other fields still reach the interpreter as parsed JSON;
the receiver maps a placeholder back to its decoded file. Inside the string it handles what
encoders emit: ``\\/``, ``\\n`` / ``\\r\\n`` line breaks every 76 characters, ``\\u002f``-style
escapes, padding and whitespace, split anywhere across chunks.

Which keys carry images depends on the upstream style (``relay/styles``): ``inlineData.data`` in
Gemini's answers, ``url`` data URLs in a chat message's ``images``. Styles that read images out of
text (``text_images``) also get every ``data:image/…;base64,`` URL inside any string decoded
the same way, up to the first character that cannot be base64 (the ``)`` of a Markdown image):
new-api writes a Gemini image as ``![image](data:…)`` in ``message.content``, in one streamed
``delta`` of several megabytes. A Markdown image still open when its string ends continues in the
next ``content`` / ``text`` / ``delta`` string (a relay that splits it over several chunks).

A final image repeated in ``response.completed`` after ``response.output_item.done`` gave one is
skipped without decoding (its placeholder says so). The raw log gets ``<base64 N chars
sha256:…>`` for each payload, from counts and a hash kept on the fly.
"""
from __future__ import annotations

import re
from pathlib import Path

from .payload_file import B64_ALPHABET, Decoding, Payload, b64_escape, cut_escape, discard, problem_error

__all__ = ["Extractor", "PLACEHOLDER", "PLACEHOLDER_TEXT", "Payload", "problem_error"]

OPENAI_KEYS = ("result", "partial_image_b64", "b64_json")
_INLINE = rb'data:image\\?/[A-Za-z0-9.+-]{1,40};base64,'
_CONTINUED = (b"content", b"text", b"delta")  # text keys in which a split Markdown image goes on
_INLINE_END = re.compile(rb'[^A-Za-z0-9+/=]')
_INLINE_START = b"data:image"
_INLINE_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:/\\;.+-,")
_SPECIAL = re.compile(rb'["\\]')
_TYPE = re.compile(rb'"type"[ \t]*:[ \t]*"([A-Za-z0-9_.]+)"|^event:[ \t]*([A-Za-z0-9_.]+)', re.M)
_BOUNDARY = re.compile(rb"\n\n|\r\n\r\n|\r\r")
PLACEHOLDER_TEXT = r"__irb_(?:payload|skipped)_\d+__"
PLACEHOLDER = re.compile(r"^__irb_(payload|skipped)_(\d+)__$")
_IN_LOG = re.compile(rb"__irb_(payload|skipped)_(\d+)__")
_ESCAPES = {ord("/"): b"/", ord("n"): b"", ord("r"): b"", ord("t"): b"", ord("\\"): b"\\", ord('"'): b'"',
            ord("b"): b"", ord("f"): b""}
_RECENT = 8192  # bytes of plain text kept to tell which event a payload belongs to


class Extractor:
    """Feed raw body bytes; get the same bytes back with image payloads replaced by placeholders."""

    def __init__(self, directory: Path, limit: int, *, keys: tuple[str, ...] = OPENAI_KEYS,
                 links: tuple[str, ...] = ("url",), text_images: bool = False) -> None:
        """``keys``: JSON keys whose string values are base64; ``links``: keys whose values may be
        data URLs; ``text_images``: data URLs inside any string are taken out too."""
        self.directory, self.limit = directory, limit
        self._links = frozenset(links)
        names = b"|".join(re.escape(k.encode()) for k in (*keys, *links))
        pattern = rb'"(' + names + rb')"[ \t]*:[ \t]*"'
        if text_images:
            continued = b"|".join(_CONTINUED)
            pattern = rb'(?:' + pattern + rb')|(' + _INLINE + rb')|"(' + continued + rb')"[ \t]*:[ \t]*"'
        self._key = re.compile(pattern)
        self._keys = tuple(f'"{k}":"'.encode() for k in (*keys, *links)) + \
            (tuple(b'"' + k + b'":"' for k in _CONTINUED) if text_images else ())
        self._text_images = text_images
        self.payloads: dict[int, Payload] = {}
        self._carry = b""
        self._recent = bytearray()
        self._current: Decoding | None = None
        self._open: Decoding | None = None  # a Markdown image whose string ended before its ")"
        # plain | decode | inline (a data URL in text) | peek (a url: data URL or not?) | pass (a plain url)
        self._mode = "plain"
        self._peek = bytearray()
        self._peek_raw = bytearray()
        self._finals_from_items = 0
        self._inline_head = b""  # the "data:image/…;base64," a data URL in text began with

    # -- the byte stream -----------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        data = self._carry + chunk if self._carry else chunk
        self._carry = b""
        out = bytearray()
        i, end = 0, len(data)
        while i < end:
            if self._mode == "plain":
                match = self._key.search(data, i)
                if match is None:
                    keep = min(self._partial_key_start(data, i), self._partial_inline_start(data, i))
                    self._plain(out, data[i:keep])
                    self._carry = data[keep:]
                    break
                if match.lastindex == 3:  # a text key: a split Markdown image may go on in it
                    if self._open is not None and match.end() >= end:
                        self._plain(out, data[i:match.start()])
                        self._carry = data[match.start():]
                        break
                    self._plain(out, data[i:match.end()])
                    i = match.end()
                    if self._open is not None and data[i:i + 1] != b'"':
                        self._resume() if data[i] in B64_ALPHABET else self._settle()
                    continue
                self._settle()
                if match.lastindex == 2:  # a data URL inside text
                    self._plain(out, data[i:match.start()])
                    self._inline_head = match.group(0)
                    self._begin("inline", markdown=self._recent.endswith(b"("))
                    i = match.end()
                    continue
                self._plain(out, data[i:match.end()])
                self._begin(match.group(1).decode())
                i = match.end()
            elif self._mode == "inline":
                i = self._inline(data, i, out)
                if i < 0:
                    break
            elif self._mode == "decode":
                # Base64 holds no quote: the next one ends the string. Escapes are undone in bulk.
                quote = data.find(b'"', i)
                span = data[i:quote if quote >= 0 else end]
                if quote < 0:
                    cut = cut_escape(span)
                    self._carry, span = span[cut:], span[:cut]
                self._current.feed(span)
                if quote < 0:
                    break
                self._end(out)
                i = quote + 1
            else:  # peek or pass: a url, read escape by escape (links are short)
                special = _SPECIAL.search(data, i)
                stop = special.start() if special else end
                if stop > i:
                    self._text(data[i:stop], data[i:stop], out)
                    if self._mode == "decode":  # a data URL's header has ended: the base64 follows
                        i = stop
                        continue
                if special is None:
                    break
                if data[stop] == ord('"'):
                    self._end(out)
                    i = stop + 1
                    continue
                escape = self._escape(data, stop)
                if escape is None:  # the escape is cut by the chunk boundary
                    self._carry = data[stop:]
                    break
                text, length = escape
                self._text(text, data[stop:stop + length], out)  # may end the header: decode follows
                i = stop + length
        return bytes(out)

    def end_of_answer(self) -> None:
        """The answer ended: a data URL still open at the end of its text is whole now."""
        if self._mode == "inline" and not self._carry:
            self._finish_inline(bytearray(), closed=False)
        self._settle()

    def close(self) -> None:
        """The stream ended: an unfinished payload is dropped; unpublished temp files go."""
        self._settle()
        self._abort_current()
        for payload in self.payloads.values():
            discard(payload)

    def log_text(self, block: bytes) -> bytes:
        """A block for the raw log: placeholders become ``<base64 N chars sha256:…>``."""
        def shown(match: re.Match) -> bytes:
            payload = self.payloads.get(int(match.group(2)))
            if payload is None:
                return match.group(0)
            if payload.skipped:
                return f"<base64 {payload.chars} chars, a repeat of the final image>".encode()
            return f"<base64 {payload.chars} chars sha256:{payload.sha[:12]}>".encode()
        return _IN_LOG.sub(shown, block)

    def lookup(self, value: object) -> Payload | None:
        match = PLACEHOLDER.match(value) if isinstance(value, str) else None
        return self.payloads.get(int(match.group(2))) if match else None

    # -- plain text ----------------------------------------------------------------------------

    def _plain(self, out: bytearray, text: bytes) -> None:
        out += text
        self._recent += text
        if len(self._recent) > _RECENT:
            del self._recent[:-_RECENT]

    def _event_type(self) -> str:
        recent = bytes(self._recent)
        starts = [m.end() for m in _BOUNDARY.finditer(recent)]
        tail = recent[starts[-1]:] if starts else recent
        match = _TYPE.search(tail)
        return (match.group(1) or match.group(2)).decode() if match else ""

    def _partial_key_start(self, data: bytes, start: int) -> int:
        """Where a key pattern may begin but be cut off by the chunk's end (held back, a few bytes)."""
        quote = data.find(b'"', max(start, len(data) - 32))
        while quote >= 0:
            tail = bytes(data[quote:]).replace(b" ", b"").replace(b"\t", b"")
            if any(key.startswith(tail) for key in self._keys):
                return quote
            quote = data.find(b'"', quote + 1)
        return len(data)

    def _partial_inline_start(self, data: bytes, start: int) -> int:
        """Where a ``data:image/…;base64,`` may begin but be cut off by the chunk's end. What is held
        back holds no quote or line break, so an event's end is never held."""
        if not self._text_images:
            return len(data)
        window = max(start, len(data) - 64)
        at = data.find(b"d", window)
        while at >= 0:
            tail = bytes(data[at:])
            if _INLINE_START.startswith(tail[:len(_INLINE_START)]) and all(c in _INLINE_CHARS for c in tail):
                return at
            at = data.find(b"d", at + 1)
        return len(data)

    # -- one payload ---------------------------------------------------------------------------

    def _begin(self, key: str, markdown: bool = False) -> None:
        payload = Payload(number=len(self.payloads) + 1, key=key, event_type=self._event_type(), markdown=markdown)
        self.payloads[payload.number] = payload
        # A base64 key's value may begin with a data: header (b64_json from one-api's Replicate adapter).
        self._current = Decoding(payload, self.directory, self.limit,
                                 prefixed=key != "inline" and key not in self._links)
        if key == "result" and payload.event_type == "response.completed" and self._finals_from_items:
            payload.skipped = True  # the final image again: counted, never decoded or held
            self._mode = "decode"
            return
        if key == "result" and payload.event_type == "response.output_item.done":
            self._finals_from_items += 1
        self._mode = "inline" if key == "inline" else "peek" if key in self._links else "decode"
        self._peek.clear()
        self._peek_raw.clear()

    def _text(self, text: bytes, raw: bytes, out: bytearray) -> None:
        """Characters of a url value: ``text`` unescaped, ``raw`` as sent."""
        if self._mode == "pass":
            out += raw
            return
        self._peek += text
        self._peek_raw += raw
        head = bytes(self._peek)
        if not head.startswith(b"data:"[:len(head)]):
            self._mode = "pass"  # an ordinary link: its text goes on unchanged
            self.payloads.pop(self._current.payload.number, None)
            self._current = None
            out += self._peek_raw
            return
        comma = head.find(b",")
        if comma < 0:
            if len(head) > 200:
                self._current.fail("The relay returned a data URL whose header never ends.")
                self._mode = "decode"
            return
        if b";base64" not in head[:comma]:
            self._current.fail("The relay returned a data URL that is not base64.")
        self._mode = "decode"
        self._current.feed(head[comma + 1:])

    def _inline(self, data: bytes, i: int, out: bytearray) -> int:
        """Base64 of a data URL inside text, up to the first character that is not base64; returns
        where plain text resumes, or -1 when the chunk ran out first."""
        while True:
            stop_at = _INLINE_END.search(data, i)
            stop = stop_at.start() if stop_at else len(data)
            if stop > i:
                self._current.feed(data[i:stop])
            if stop_at is None:
                return -1
            if data[stop] == ord("\\"):
                escape = b64_escape(data, stop)
                if escape is None:  # cut by the chunk's end
                    self._carry = data[stop:]
                    return -1
                if escape:
                    self._current.feed(escape[0])
                    i = stop + escape[1]
                    continue
            self._finish_inline(out, closed=data[stop] != ord('"'))
            return stop

    def _finish_inline(self, out: bytearray, *, closed: bool) -> None:
        payload = self._current.payload
        if payload.chars == 0 and not payload.continued:  # "data:image/png;base64," and no data: mere words
            self._plain(out, self._inline_head)
            self.payloads.pop(payload.number, None)
            self._current, self._mode = None, "plain"
            return
        if not payload.continued:
            out += payload.placeholder()
        if payload.markdown and not closed:
            self._open = self._current  # its string ended before the ")": it may go on in the next one
        else:
            self._current.complete()
        self._current, self._mode = None, "plain"

    def _resume(self) -> None:
        self._current, self._open, self._mode = self._open, None, "inline"
        self._current.payload.continued = True

    def _settle(self) -> None:
        """An open Markdown image did not go on: it is whole as it is."""
        if self._open is not None:
            opened, self._open = self._open, None
            opened.complete()

    def _escape(self, data: bytes, at: int) -> tuple[bytes, int] | None:
        if at + 1 >= len(data):
            return None
        kind = data[at + 1]
        if kind == ord("u"):
            if at + 6 > len(data):
                return None
            try:
                char = chr(int(data[at + 2:at + 6], 16))
            except ValueError:
                return b"!", 6
            return char.encode("utf-8"), 6
        return _ESCAPES.get(kind, b"!"), 2

    def _end(self, out: bytearray) -> None:
        if self._mode == "pass":
            out += b'"'
            self._mode = "plain"
            return
        payload = self._current.payload
        if self._mode == "peek":  # a url shorter than "data:": an ordinary (if odd) value
            out += bytes(self._peek_raw) + b'"'
            self.payloads.pop(payload.number, None)
        else:
            self._current.complete()
            if payload.chars == 0 and not payload.problem:
                self.payloads.pop(payload.number, None)  # an empty string stays one
            else:
                out += payload.placeholder()
            out += b'"'
        self._current = None
        self._mode = "plain"

    def _abort_current(self) -> None:
        if self._current is not None:
            current, self._current = self._current, None
            current.abort()
        self._mode = "plain"

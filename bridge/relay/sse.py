"""Server-sent events from raw byte chunks, linear in the size of each event.

sseclient-py parses the events; this module feeds it. Handed a ``requests.Response`` it would
iterate 128-byte chunks and stitch long lines with ``bytes +=``, which is quadratic for the
multi-megabyte base64 lines image streams carry. So ``EventBlocks`` cuts the byte stream into
complete event blocks first, and sseclient sees one chunk per event. The blocks are also
normalised where sseclient-py departs from the WHATWG rules
(html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
a leading BOM is dropped (sseclient would lose the first event) and CR / CRLF become LF
(sseclient merges events across ``\\r\\r\\n`` and ``\\n\\r\\n``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sseclient import SSEClient

from ..errors import ProtocolError

MAX_EVENT_BYTES = 8 * 1024 * 1024  # one event's text; its images were taken out on the way (payloads)
_BOM = b"\xef\xbb\xbf"
_FIELDS = (b"data", b"event", b"id", b"retry", b":")


@dataclass(frozen=True)
class ServerEvent:
    name: str
    data: str


class EventBlocks:
    """Incremental splitter: bytes in, complete LF-terminated event blocks out."""

    def __init__(self, limit: int = MAX_EVENT_BYTES) -> None:
        self._limit = limit
        self._buf = bytearray()
        self._scan = 0
        self._pending_cr = False
        self._head = b""  # the first bytes, held until a BOM can be ruled out

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._head is not None:
            self._head += chunk
            if len(self._head) < len(_BOM) and _BOM.startswith(self._head):
                return []
            chunk = self._head[len(_BOM):] if self._head.startswith(_BOM) else self._head
            self._head = None
        if not chunk:
            return []
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._pending_cr = chunk[-1:] == b"\r"
        self._buf += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = []
        while True:
            end = self._buf.find(b"\n\n", max(self._scan - 1, 0))
            if end < 0:
                self._scan = len(self._buf)
                if len(self._buf) > self._limit:
                    # A line that never ends would otherwise grow without bound.
                    raise ProtocolError(f"The relay sent one stream event larger than {self._limit >> 20} MB; "
                                        "the bridge stopped reading it.", code="too_large")
                return blocks
            blocks.append(_normalise(bytes(self._buf[: end + 2])))
            del self._buf[: end + 2]
            self._scan = 0

    def close(self) -> list[bytes]:
        """The last event, kept even without its closing blank line (relays omit it)."""
        rest = self.feed(b"") if self._head is not None else []
        if self._buf.strip():
            rest.append(_normalise(bytes(self._buf).rstrip(b"\n") + b"\n\n"))
        self._buf.clear()
        return rest


def _normalise(block: bytes) -> bytes:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        block = block.decode("utf-8", "replace").encode("utf-8")
    body = block.strip()
    # A bare JSON body (an error or a whole answer to a stream request) carries no SSE field;
    # sseclient would drop it silently, so it becomes one data-only event.
    if body[:1] in (b"{", b"[") and not any(line.lstrip().startswith(_FIELDS) for line in body.split(b"\n")):
        return b"".join(b"data: " + line + b"\n" for line in body.split(b"\n")) + b"\n"
    return block


def iter_blocks(chunks: Iterable[bytes], on_block: Callable[[bytes], None] | None = None) -> Iterator[bytes]:
    splitter = EventBlocks()
    for chunk in chunks:
        for block in splitter.feed(chunk):
            if on_block:
                on_block(block)
            yield block
    for block in splitter.close():
        if on_block:
            on_block(block)
        yield block


def iter_events(chunks: Iterable[bytes], on_block: Callable[[bytes], None] | None = None) -> Iterator[ServerEvent]:
    """Events as they complete; comments and data-less events are skipped, ``[DONE]`` ends the stream."""
    for event in SSEClient(iter_blocks(chunks, on_block)).events():
        if event.data.strip() == "[DONE]":
            return
        yield ServerEvent(name=event.event or "message", data=event.data)

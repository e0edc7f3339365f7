"""Writing answers to the socket: framing, pacing and the byte-level stream faults."""
from __future__ import annotations

import json
import socket
import zlib
from dataclasses import dataclass
from typing import Callable

from .options import Options

_REASONS = {520: "Unknown Error", 522: "Connection Timed Out", 524: "A timeout occurred"}
BOM = b"\xef\xbb\xbf"
DONE = "data: [DONE]\n\n"
CUT_AT = 65536  # one-api's bufio.Scanner line limit (R7)


@dataclass
class Event:
    name: str
    payload: dict
    final: bool = False  # carries the final image


@dataclass
class Raw:
    text: str  # an already framed piece of the stream


STALL = object()  # go silent for the stall time
ABORT = object()  # drop the connection mid-stream


class Writer:
    """Sends one HTTP answer: Content-Length, chunked, or close-delimited (``close=1``)."""

    def __init__(self, handler, opts: Options, wait: Callable[[float], None] | None = None):
        self.handler = handler
        self.close = opts.close
        self.chunk = opts.chunk
        self.chunked = False
        self.encoding = opts.encoding
        self.drip = opts.drip
        self.wait = wait or (lambda seconds: None)
        self._compressor = None

    def start(self, status: int, content_type: str, headers: dict[str, str] | None = None,
              length: int | None = None, *, precompressed: bool = False) -> None:
        h = self.handler
        h.send_response(status, _REASONS.get(status))
        h.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        if self.encoding:
            # A compressing proxy in front of the relay (nginx gzip, a CDN): every answer, streams included.
            h.send_header("Content-Encoding", "deflate" if self.encoding.startswith("deflate") else "gzip")
            if not precompressed:
                self._compressor = compressor(self.encoding)
        if self.close:
            # Close-delimited: the body ends when the socket does, as with HTTP/1.0 servers.
            h.send_header("Connection", "close")
            h.close_connection = True
        elif length is not None:
            h.send_header("Content-Length", str(length))
        else:
            h.send_header("Transfer-Encoding", "chunked")
            self.chunked = True
        if self.drip:
            # A relay (or a hostile server) that sends its status line and headers one byte at a time.
            h.send_header("X-Dripped", "1")
            head = b"".join(h._headers_buffer) + b"\r\n"
            h._headers_buffer = []
            for i in range(len(head)):
                h.wfile.write(head[i:i + 1])
                h.wfile.flush()
                self.wait(self.drip)
            return
        h.end_headers()

    def write(self, data: bytes) -> None:
        if self._compressor is not None:
            data = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        step = self.chunk or len(data) or 1
        out = self.handler.wfile
        for i in range(0, len(data), step):
            piece = data[i : i + step]
            out.write(b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece)
            out.flush()

    def finish(self) -> None:
        if self._compressor is not None:
            tail, self._compressor = self._compressor.flush(), None
            self.write(tail)
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
            self.handler.wfile.flush()

    def abort(self) -> None:
        """Close without the terminating chunk, so the client sees a broken body."""
        self.handler.close_connection = True
        try:
            self.handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send(self, status: int, body: bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> None:
        if self.encoding:
            packer = compressor(self.encoding)
            body = packer.compress(body) + packer.flush()
        self.start(status, content_type, headers, len(body), precompressed=True)
        self.write(body)
        self.finish()


def compressor(encoding: str):
    wbits = {"gzip": 31, "deflate": 15, "deflate-raw": -15}[encoding]
    return zlib.compressobj(6, zlib.DEFLATED, wbits)


def encode(item, fault: str | None) -> str:
    if isinstance(item, Raw):
        text = item.text
    else:
        data = json.dumps(item.payload, separators=(",", ":"), ensure_ascii=False)
        if fault in ("no-event-lines", "big-event-cut") or not item.name:
            text = f"data: {data}\n\n"  # one-api forwards data lines only (R7)
        else:
            text = f"event: {item.name}\ndata: {data}\n\n"
    return text


def frames(items: list, fault: str | None) -> list:
    """Encode stream items into byte frames, applying the byte-level faults."""
    out: list = []
    pings = (": PING\n\n", ":\n\n", "event: ping\n\n")
    count = 0
    for item in items:
        if item is STALL or item is ABORT:
            out.append(item)
            continue
        text = encode(item, fault)
        if fault == "big-event-cut" and getattr(item, "final", False) and len(text) > CUT_AT:
            # The scanner gives up on the long line; the relay still ends the stream politely.
            out.append(_endings(text.encode()[:CUT_AT].decode("ascii", "ignore") + "\n\n" + DONE, fault))
            return out
        if fault == "keepalive" and count:
            text = pings[(count - 1) % 3] + text  # comments, a bare colon, a data-less event
        out.append(_endings(text, fault))
        count += 1
    if fault in ("no-event-lines", "big-event-cut"):
        out.append(_endings(DONE, fault))
    if fault == "bom" and out and isinstance(out[0], bytes):
        out[0] = BOM + out[0]
    return out


def _endings(text: str, fault: str | None) -> bytes:
    if fault == "crlf":
        text = text.replace("\n", "\r\n")
    elif fault == "cr":
        text = text.replace("\n", "\r")
    return text.encode()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def play(writer: Writer, items: list, opts: Options, wait: Callable[[float], None]) -> None:
    """Send a stream: ``delay`` between frames, stalls, aborts, or all at once (``buffered``)."""
    encoded = frames(items, opts.fault)
    content_type = "text/event-stream; charset=utf-8"
    if opts.fault == "buffered":
        # A relay that collects the whole turn before forwarding anything, headers included.
        wait(2.0 if opts.stall is None else opts.stall)
        cut = ABORT in encoded
        body = b"".join(f for f in encoded if isinstance(f, bytes))
        writer.start(200, content_type, SSE_HEADERS)
        writer.write(body)
        writer.abort() if cut else writer.finish()
        return
    writer.start(200, content_type, SSE_HEADERS)
    first = True
    for frame in encoded:
        if frame is STALL:
            wait(30.0 if opts.stall is None else opts.stall)
            continue
        if frame is ABORT:
            writer.abort()
            return
        if not first and opts.delay:
            wait(opts.delay)
        writer.write(frame)
        first = False
    writer.finish()

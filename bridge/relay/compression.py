"""Content-Encoding: gzip and deflate decoded in bounded steps, so a compression bomb cannot
blow up memory before a cap sees the bytes. Pure, no I/O.

Relays behind nginx, caddy or a CDN gzip JSON (and sometimes event streams) whenever the client
allows it. The bridge decodes what it advertises and refuses what it does not understand.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator

from ..errors import ProtocolError

STEP = 1 << 18  # decoded bytes handed on per step: a 64 KiB read can inflate to ~64 MB otherwise
ACCEPTED = "gzip, deflate"


class Decoder:
    """Feed raw body bytes; get decoded bytes back in pieces of at most ``STEP``."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise ProtocolError(f"The relay compressed its answer as '{', '.join(codings)}', which the bridge does "
                                "not decode; it asked for gzip, deflate or none.", code="unexpected_content")
        self.coding = codings[0] if codings else None
        self._inflater = self._new() if self.coding else None
        self._head: bytearray | None = bytearray() if self.coding == "deflate" else None  # until framing is known
        self._seen = False

    def _new(self, raw: bool = False):
        if raw:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        # 32 + MAX_WBITS detects a gzip or zlib header; "deflate" is zlib-wrapped by the RFC.
        return zlib.decompressobj(32 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            if data:
                yield data
            return
        if self._head is not None:
            self._head += data
        pending = data
        while pending:
            self._seen = True
            try:
                out = self._inflater.decompress(pending, STEP)
            except zlib.error:
                if self._head is not None:
                    # Some servers send raw deflate without the zlib wrapper: start again on all bytes so far.
                    pending, self._head = bytes(self._head), None
                    self._inflater = self._new(raw=True)
                    continue
                raise ProtocolError(f"The relay's {self.coding} answer is corrupt and cannot be decoded.",
                                    code="unexpected_content") from None
            if out:
                if self._head is not None and len(self._head) > 2:
                    self._head = None  # output came: the framing is settled
                yield out
            if self._inflater.eof:
                rest = self._inflater.unused_data
                if not rest.strip(b"\0"):
                    return
                self._inflater = self._new()  # a second gzip member
                pending = rest
            else:
                pending = self._inflater.unconsumed_tail
        if self._head is not None and len(self._head) > 65536:
            self._head = None

    def close(self) -> None:
        """Raise when the stream ended inside compressed data (a cut connection)."""
        if self._inflater is not None and not self._inflater.eof and self._seen:
            raise ProtocolError(f"The relay's {self.coding} answer ended before its compressed data did.",
                                code="unexpected_content")

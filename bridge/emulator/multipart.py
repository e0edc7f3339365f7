"""A small multipart/form-data parser (RFC 7578) for the emulated ``/images/edits`` route.

Only what clients actually send is handled: one body held in memory, CRLF delimiters, a
Content-Disposition with ``name`` and an optional ``filename``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class MultipartError(ValueError):
    pass


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``form-data; name="a"; filename="b.png"`` into its value and parameters."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    while rest:
        rest = rest.lstrip(" \t;")
        key, eq, rest = rest.partition("=")
        if not eq:
            break
        key = key.strip().lower()
        if rest.startswith('"'):
            # Quoted string: backslash escapes a character, the next bare quote ends it.
            chars, i = [], 1
            while i < len(rest) and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < len(rest):
                    i += 1
                chars.append(rest[i])
                i += 1
            params[key] = "".join(chars)
            rest = rest[i + 1 :]
        else:
            val, _, rest = rest.partition(";")
            params[key] = val.strip()
    return head.strip().lower(), params


def boundary_of(content_type: str) -> str:
    kind, params = header_params(content_type)
    boundary = params.get("boundary", "")
    if kind != "multipart/form-data" or not boundary:
        raise MultipartError("not a multipart/form-data body with a boundary")
    return boundary


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Return the parts of a multipart/form-data body, in order."""
    delimiter = b"\r\n--" + boundary_of(content_type).encode("latin-1")
    # Prefixing CRLF lets the first delimiter look like every other one.
    pieces = (b"\r\n" + body).split(delimiter)
    if len(pieces) < 2:
        raise MultipartError("boundary not found in body")
    parts: list[Part] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            return parts  # close delimiter
        _, sep, piece = piece.partition(b"\r\n")  # transport padding after the delimiter
        if not sep:
            raise MultipartError("malformed part delimiter")
        head, sep, data = piece.partition(b"\r\n\r\n")
        if not sep:
            if not piece.startswith(b"\r\n"):
                raise MultipartError("part without a header/body separator")
            head, data = b"", piece[2:]  # a part with no headers at all
        parts.append(_make_part(head, data))
    raise MultipartError("body ends before the closing boundary")


def _make_part(head: bytes, data: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            headers[key.strip().lower()] = value.strip()
    _, disposition = header_params(headers.get("content-disposition", ""))
    filename = disposition.get("filename")
    if "filename*" in disposition:  # RFC 5987: charset'lang'percent-encoded
        charset, _, encoded = disposition["filename*"].partition("'")
        filename = unquote(encoded.partition("'")[2], encoding=charset or "utf-8", errors="replace")
    return Part(
        name=disposition.get("name", ""),
        filename=filename,
        content_type=headers.get("content-type"),
        data=data,
        headers=headers,
    )

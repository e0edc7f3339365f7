"""Shared helpers for the stream tests: byte transcripts, chunkers, a tiny VCR reader.

The ``tests/fixtures/*.sse`` files are byte transcripts of what relays send. They are built by
``build_transcripts()`` so that CR, CRLF and BOM bytes are exact; regenerate them with

    PYTHONPATH=. python -m tests.helpers_fixtures

and ``test_sse.py`` checks that the files on disk still equal what this module builds (an editor
or a checkout that rewrites line endings would otherwise change them silently).
"""
from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bridge.relay.events import Reader, Signal
from bridge.relay.styles.images import ImagesReader
from bridge.relay.styles.responses import ResponsesReader
from bridge.relay.sse import iter_events

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
REAL = FIXTURES / "real"

BOM = b"\xef\xbb\xbf"


# -- tiny images ---------------------------------------------------------------------------------

def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid RGB PNG (signature, IHDR, IDAT, IEND with correct CRCs)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


PNG_PARTIAL_0 = tiny_png(rgb=(40, 40, 40))
PNG_PARTIAL_1 = tiny_png(rgb=(120, 120, 120))
PNG_FINAL = tiny_png(rgb=(200, 30, 30))
PNG_SECOND = tiny_png(rgb=(30, 200, 30))
B64_PARTIAL_0 = base64.b64encode(PNG_PARTIAL_0).decode()
B64_PARTIAL_1 = base64.b64encode(PNG_PARTIAL_1).decode()
B64_FINAL = base64.b64encode(PNG_FINAL).decode()
B64_SECOND = base64.b64encode(PNG_SECOND).decode()


# -- transcripts ---------------------------------------------------------------------------------

def dumps(payload: object) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Transcript:
    name: str  # file name under tests/fixtures
    data: bytes  # the exact bytes on the wire
    events: tuple[tuple[str, str], ...]  # (event name, data) that iter_events must yield
    about: str


def _sse(events: Iterable[tuple[str | None, str]], eol: str = "\n") -> str:
    out = []
    for name, data in events:
        if name is not None:
            out.append(f"event: {name}{eol}")
        out.append(f"data: {data}{eol}{eol}")
    return "".join(out)


def responses_happy_events() -> list[tuple[str, dict]]:
    shell = {"id": "resp_fx1", "object": "response", "created_at": 1767225600, "status": "in_progress",
             "model": "gpt-5", "output": [], "tool_choice": {"type": "image_generation"}, "usage": None}
    item = {"id": "ig_fx1", "type": "image_generation_call", "status": "completed", "action": "generate",
            "size": "1024x1024", "quality": "high", "background": "opaque", "output_format": "png",
            "revised_prompt": "A red square on a white table.", "result": B64_FINAL}
    usage = {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210}
    tool_usage = {"image_gen": {"input_tokens": 50, "output_tokens": 4160}}
    done = {**shell, "status": "completed", "output": [item], "usage": usage, "tool_usage": tool_usage}
    typed = [
        ("response.created", {"response": shell}),
        ("response.in_progress", {"response": shell}),
        ("response.output_item.added", {"output_index": 0, "item": {
            "id": "ig_fx1", "type": "image_generation_call", "status": "in_progress", "result": None}}),
        ("response.image_generation_call.in_progress", {"output_index": 0, "item_id": "ig_fx1"}),
        ("response.image_generation_call.generating", {"output_index": 0, "item_id": "ig_fx1"}),
        ("response.image_generation_call.partial_image", {
            "output_index": 0, "item_id": "ig_fx1", "partial_image_index": 0, "partial_image_b64": B64_PARTIAL_0,
            "size": "1024x1024", "quality": "high", "background": "opaque", "output_format": "png"}),
        ("response.image_generation_call.partial_image", {
            "output_index": 0, "item_id": "ig_fx1", "partial_image_index": 1, "partial_image_b64": B64_PARTIAL_1}),
        ("response.image_generation_call.completed", {"output_index": 0, "item_id": "ig_fx1"}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": done}),
    ]
    return [(kind, {"type": kind, "sequence_number": n, **body}) for n, (kind, body) in enumerate(typed)]


def images_stream_events() -> list[tuple[str, dict]]:
    common = {"size": "1024x1024", "quality": "high", "background": "opaque", "output_format": "png"}
    usage = {"input_tokens": 50, "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
             "output_tokens": 4160, "total_tokens": 4210}
    return [
        ("image_generation.partial_image", {"type": "image_generation.partial_image", "b64_json": B64_PARTIAL_0,
                                            "created_at": 1767225600, **common, "partial_image_index": 0}),
        ("image_generation.completed", {"type": "image_generation.completed", "b64_json": B64_FINAL,
                                        "created_at": 1767225630, **common, "usage": usage}),
        ("image_generation.completed", {"type": "image_generation.completed", "b64_json": B64_SECOND,
                                        "created_at": 1767225631, **common, "usage": usage}),
    ]


FLAT_ERROR = {"type": "error", "sequence_number": 1, "code": "server_error",
              "message": "The server had an error while processing your request.", "param": None}
NESTED_ERROR = {"type": "error", "sequence_number": 2, "error": {
    "type": "insufficient_quota", "code": "credit_balance_exhausted",
    "message": "You have no credits remaining. Add credits to continue.", "param": None}}
BARE_ERROR_BODY = {"error": {"message": "Upstream service temporarily unavailable", "type": "upstream_error"}}
MULTILINE_PAYLOAD = {"type": "response.output_text.done", "output_index": 0, "text": "two\nlines",
                     "nested": {"list": [1, 2, 3], "empty": {}}}


def build_transcripts() -> dict[str, Transcript]:
    happy = [(name, dumps(p)) for name, p in responses_happy_events()]
    happy_lf = _sse(happy).encode()
    created = dumps(responses_happy_events()[0][1])
    items: list[Transcript] = []

    def add(name: str, data: bytes, events: list[tuple[str, str]], about: str) -> None:
        items.append(Transcript(name, data, tuple(events), about))

    add("responses_two_partials.lf.sse", happy_lf, happy,
        "Responses stream, partial_images=2, LF line ends, final repeated in response.completed, no [DONE].")
    add("responses_two_partials.cr.sse", happy_lf.replace(b"\n", b"\r"), happy, "The same stream with lone CR line ends.")
    add("responses_two_partials.crlf.sse", happy_lf.replace(b"\n", b"\r\n"), happy, "The same stream with CRLF line ends.")

    data_only = [("message", d) for _, d in happy[:3]]
    add("data_only_done.sse",
        (_sse((None, d) for _, d in data_only) + "data: [DONE]\n\n" + 'data: {"type":"after.done"}\n\n').encode(),
        data_only, "No event: lines (name comes from JSON type), ends with data: [DONE]; the event after it is ignored.")

    ping = 'data: PING\n\n'
    keepalive = (": PING\n\n:\n\n" + "event: ping\n\n" + f"event: response.created\n: keepalive inside an event\ndata: {created}\n\n"
                 + ": OPENROUTER PROCESSING\n\n" + "event: ping\ndata:\n\n" + ping + ":\n:\n\n")
    add("keepalive_comments.sse", keepalive.encode(),
        [("response.created", created), ("ping", ""), ("message", "PING")],
        "Comment keep-alives (': PING', bare ':'), 'event: ping' without data (not dispatched), "
        "'event: ping' with an empty data line (dispatched with data ''), and data: PING.")

    pretty = json.dumps(MULTILINE_PAYLOAD, indent=2)
    multi = "event: response.output_text.done\n" + "".join(f"data: {line}\n" for line in pretty.split("\n")) + "\n"
    multi += "data:first\ndata:second\ndata\n\n"
    add("multiline_data.sse", multi.encode(),
        [("response.output_text.done", pretty), ("message", "first\nsecond\n")],
        "A JSON payload spread over several data: lines (joined with LF); data: without a space and a bare 'data' line.")

    add("bom_at_start.sse", BOM + _sse(happy[:2]).encode(), happy[:2],
        "A UTF-8 BOM before the first event: it is dropped and the first event is kept.")

    first, second, third = (dumps({"type": "t", "n": n}) for n in range(3))
    mixed = f"data: {first}\r\r\ndata: {second}\n\r\nevent: response.created\r\ndata: {third}\r\n\r\n"
    add("mixed_cr_crlf_blank_lines.sse", mixed.encode(),
        [("message", first), ("message", second), ("response.created", third)],
        "Events ended by CR+CRLF and by LF+CRLF: three separate events, none merged.")

    add("last_event_unterminated.sse", f"event: response.created\ndata: {created}\n\ndata: {first}\n".encode(),
        [("response.created", created), ("message", first)],
        "The last event has no closing blank line; it is still delivered.")

    images = [(name, dumps(p)) for name, p in images_stream_events()]
    add("images_stream_n2.sse", (_sse(images) + "data: [DONE]\n\n").encode(), images,
        "Images API stream for n=2: one partial image, one image_generation.completed per image, then [DONE].")

    flat = dumps(FLAT_ERROR)
    add("error_event_flat.sse", _sse([("response.created", created), ("error", flat)]).encode(),
        [("response.created", created), ("error", flat)], "The documented flat error event (code/message at top level).")
    nested = dumps(NESTED_ERROR)
    add("error_event_nested.sse", _sse([("response.created", created), ("error", nested)]).encode(),
        [("response.created", created), ("error", nested)], "The error event OpenAI really sends (fields nested under error).")

    body = json.dumps(BARE_ERROR_BODY, indent=2) + "\n"
    add("bare_json_error_body.sse", body.encode(), [("message", body.strip())],
        "A pretty-printed JSON error body served as text/event-stream: no SSE field at all.")
    return {t.name: t for t in items}


def write_transcripts() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for t in build_transcripts().values():
        (FIXTURES / t.name).write_bytes(t.data)


# -- chunking and parsing ------------------------------------------------------------------------

def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    cuts = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in zip(cuts, cuts[1:])]


def parse(chunks: Iterable[bytes]) -> list[tuple[str, str]]:
    return [(e.name, e.data) for e in iter_events(chunks)]


@dataclass
class Replay:
    signals: list[Signal]
    interpreter: Reader
    error: Exception | None = None

    def finals(self) -> list[Signal]:
        return [s for s in self.signals if s.kind == "final"]

    def partials(self) -> list[Signal]:
        return [s for s in self.signals if s.kind == "partial"]


def is_images_payload(payload: object, name: str = "message") -> bool:
    """Whether a payload is the Images API's (a transcript is read by the reader of the mode it was recorded in)."""
    kind = str(payload.get("type") or name) if isinstance(payload, dict) else name
    return kind.startswith(("image_generation.", "image_edit.")) or \
        (isinstance(payload, dict) and isinstance(payload.get("data"), list))


def replay(events: Iterable[tuple[str, str]], *, catch: bool = False) -> Replay:
    """Feed (name, data) events to a fresh reader the way the receiver does (non-JSON data skipped):
    the Images API's reader for an Images API transcript, else the Responses API's."""
    parsed = []
    for name, data in events:
        try:
            parsed.append((name, json.loads(data)))
        except ValueError:
            continue
    images = any(is_images_payload(payload, name) for name, payload in parsed)
    interpreter = ImagesReader() if images else ResponsesReader()
    result = Replay([], interpreter)
    try:
        for name, payload in parsed:
            result.signals += interpreter.feed(payload, name)
    except Exception as exc:  # noqa: BLE001 - the caller asserts on the class
        if not catch:
            raise
        result.error = exc
    return result


def replay_bytes(chunks: Iterable[bytes], *, catch: bool = False) -> Replay:
    return replay(((e.name, e.data) for e in iter_events(chunks)), catch=catch)


# -- a tiny reader for the VCR cassettes (no YAML dependency) ------------------------------------

_STRING_KEY = re.compile(r"^(?P<indent> *)string: (?P<rest>.*)$")
_BLOCK = re.compile(r"^(?P<binary>!binary )?\|(?P<chomp>[+-]?)$")


def vcr_strings(text: str) -> list[bytes]:
    """Every ``string:`` scalar of a VCR cassette, in file order, as bytes.

    Handles the forms the cassettes here use: ``'single quoted'`` on one line, literal blocks
    ``|``, ``|-``, ``|+`` (clip, strip, keep chomping) and ``!binary |-`` (base64 of the bytes).
    """
    lines = text.split("\n")
    out: list[bytes] = []
    i = 0
    while i < len(lines):
        match = _STRING_KEY.match(lines[i])
        i += 1
        if not match:
            continue
        rest = match["rest"]
        if rest.startswith("'"):
            inner = rest[1:-1]
            if len(rest) < 2 or not rest.endswith("'") or "'" in inner.replace("''", ""):
                raise ValueError(f"unsupported multi-line quoted scalar near line {i}")
            out.append(inner.replace("''", "'").encode())
            continue
        block = _BLOCK.match(rest)
        if not block:
            raise ValueError(f"unsupported scalar form {rest[:20]!r} near line {i}")
        body: list[str] = []
        indent = None
        while i < len(lines):
            line = lines[i]
            if line.strip() == "":
                body.append("")
                i += 1
                continue
            width = len(line) - len(line.lstrip(" "))
            if indent is None:
                if width <= len(match["indent"]):
                    break
                indent = width
            if width < indent:
                break
            body.append(line[indent:])
            i += 1
        # blank lines read past the end of the block belong to it only with keep chomping
        content = "\n".join(body)
        chomp = block["chomp"]
        if chomp == "+":
            value = content + "\n"
        elif chomp == "-":
            value = content.rstrip("\n")
        else:
            value = content.rstrip("\n") + "\n"
        if chomp == "+" and i >= len(lines):
            value = value[:-1]  # the file's own final newline is not part of the scalar
        out.append(base64.b64decode("".join(value.split())) if block["binary"] else value.encode())
    return out


def jsonl_as_sse(lines: list[str], *, with_event_lines: bool) -> bytes:
    """A recorder's one-payload-per-line file replayed as SSE."""
    out = []
    for line in lines:
        if with_event_lines:
            out.append(f"event: {json.loads(line)['type']}\n")
        out.append(f"data: {line}\n\n")
    return "".join(out).encode()


def iter_chunks_then_fail(chunks: list[bytes]) -> Iterator[bytes]:
    """Yield the chunks, then fail if anyone asks for more (a relay that keeps the socket open)."""
    yield from chunks
    raise AssertionError("read past the end of the stream")


if __name__ == "__main__":
    write_transcripts()

"""Property tests: the SSE parser and the interpreter on generated and hostile input."""
from __future__ import annotations

import json
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import bridge.relay.sse as sse
from bridge.errors import BridgeError
from bridge.relay.styles import STYLES
from bridge.relay.diagnose import error_from_body, error_from_payload
from bridge.relay.sse import iter_events
from tests.helpers_fixtures import B64_FINAL, BOM, chunked, parse, split_at

# Modest and quiet: the whole file stays well under 20 s; one shrunk counterexample per failing property.
FAST = settings(max_examples=200, deadline=None, report_multiple_bugs=False, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# -- SSE: hostile bytes --------------------------------------------------------------------------

SSE_PIECES = [b"data:", b"data: ", b"event:", b"event: x", b"id: 1", b"retry: 5", b":", b": PING", b"\r", b"\n",
              b"\r\n", b" ", b"{", b"}", b'"a"', b"[DONE]", BOM, b"\xef", b"\xff", b"x", b"\x00", "é".encode()]
sse_soup = st.lists(st.sampled_from(SSE_PIECES) | st.binary(max_size=6), max_size=60).map(b"".join)


def cuts_for(data: bytes, draw_points: list[int], *, allow_empty: bool) -> list[bytes]:
    points = [p % (len(data) + 1) for p in draw_points]
    if not allow_empty:
        points = sorted(set(p for p in points if 0 < p < len(data)))
    return split_at(data, points)


@FAST
@given(data=st.binary(max_size=600) | sse_soup, points=st.lists(st.integers(0, 10_000), max_size=30))
def test_arbitrary_bytes_and_chunkings_never_raise(data, points):
    events = list(iter_events(cuts_for(data, points, allow_empty=True)))
    assert all(isinstance(e.name, str) and isinstance(e.data, str) and e.data.strip() != "[DONE]" for e in events)


@FAST
@given(data=sse_soup, points=st.lists(st.integers(0, 10_000), max_size=30))
def test_any_input_parses_the_same_however_it_is_split(data, points):
    assert parse(cuts_for(data, points, allow_empty=False)) == parse([data])


# -- SSE: generated valid streams ----------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12)
payloads = st.dictionaries(text, json_values, max_size=4)
event_names = st.none() | st.sampled_from(["response.created", "response.output_item.done", "error", "ping",
                                           "image_generation.completed", "message"])
EOLS = ["\n", "\r", "\r\n"]


@st.composite
def event_block(draw):
    name = draw(event_names)
    data = json.dumps(draw(payloads), ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1, 2])))
    lines = []
    if name is not None:
        lines.append(f"event: {name}")
    for line in data.split("\n"):
        compact = not line.startswith(" ") and draw(st.booleans())
        lines.append(("data:" if compact else "data: ") + line)
        if draw(st.integers(0, 5)) == 0:
            lines.append(":" + draw(line_text))  # a comment inside the event
    if draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), "id: " + draw(line_text).strip())
    return lines, (name or "message", data)


@st.composite
def valid_stream(draw):
    """(bytes, expected events): random events, comments, keep-alives, line ends, BOM, [DONE]."""
    blocks: list[list[str]] = []
    expected: list[tuple[str, str]] = []
    done = False
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["event", "event", "event", "comment", "ping", "done"]))
        if kind == "event":
            lines, event = draw(event_block())
            blocks.append(lines)
            if not done:
                expected.append(event)
        elif kind == "comment":
            blocks.append([":" + draw(line_text)] if draw(st.booleans()) else [":"])
        elif kind == "ping":
            blocks.append(["event: ping"])  # no data: never dispatched
        elif kind == "done":
            blocks.append([draw(st.sampled_from(["data: [DONE]", "data:[DONE]"]))])
            done = True
    out: list[str] = []
    last = ""

    def emit(line: str) -> None:
        nonlocal last
        eol = draw(st.sampled_from(EOLS))
        if last == "\r" and line == "" and eol == "\n":
            eol = "\r\n"  # CR followed by LF would be one CRLF line end, not a blank line
        out.append(line + eol)
        last = eol

    for i, lines in enumerate(blocks):
        for line in lines:
            emit(line)
        final_block = i == len(blocks) - 1
        ending = draw(st.sampled_from(["blank", "blank", "none", "no-eol"])) if final_block and not done else "blank"
        if ending == "blank":
            emit("")
        elif ending == "no-eol":
            out[-1] = out[-1].rstrip("\r\n")
    data = "".join(out).encode()
    if draw(st.booleans()):
        data = BOM + data
    return data, expected


@FAST
@given(stream=valid_stream(), points=st.lists(st.integers(1, 100_000), max_size=40))
def test_valid_stream_split_anywhere_gives_the_same_events(stream, points):
    data, expected = stream
    assert parse([data]) == expected
    assert parse(cuts_for(data, points, allow_empty=False)) == expected


@FAST
@given(stream=valid_stream(), size=st.integers(1, 16))
def test_valid_stream_in_fixed_chunks(stream, size):
    data, expected = stream
    assert parse(chunked(data, size)) == expected


@FAST
@example(stream=(b"data: a\r\ndata: b\r\n\r\n", [("message", "a\nb")]), size=8)
@given(stream=valid_stream(), size=st.integers(1, 16))
def test_empty_chunks_anywhere_change_nothing(stream, size):
    # A transport may hand over an empty read; it must not change how the bytes around it are framed.
    data, expected = stream
    with_empties = [p for piece in chunked(data, size) for p in (b"", piece)] + [b""]
    assert parse(with_empties) == expected


# -- SSE: linear work for big events in tiny chunks (no timing) ----------------------------------

@settings(max_examples=25, deadline=None, database=None)
@given(sizes=st.lists(st.integers(1, 20_000), min_size=1, max_size=4), chunk=st.integers(1, 64),
       eol=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_sseclient_sees_one_chunk_per_event_however_small_the_reads(sizes, chunk, eol):
    seen: list[int] = []

    class Counting(sse.SSEClient):
        def __init__(self, source, *args, **kwargs):
            def counted():
                for piece in source:
                    seen.append(len(piece))
                    yield piece
            super().__init__(counted(), *args, **kwargs)

    stream = b"".join(b"data: " + b"A" * size + eol + eol for size in sizes)
    with mock.patch.object(sse, "SSEClient", Counting):
        events = list(iter_events(chunked(stream, chunk)))
    assert [len(e.data) for e in events] == sizes
    assert len(seen) == len(sizes)  # one piece per event: sseclient never stitches slivers


# -- interpreter: hostile payloads ---------------------------------------------------------------

TYPES = sorted({kind for style in STYLES.values() for kind in type(style.reader()).handlers}) + ["error", "upstream_error", "", "response.metadata", "image_generation.unknown"]
KEYS = ["type", "response", "item", "output", "output_index", "result", "status", "error", "data", "b64_json", "url",
        "usage", "tool_usage", "partial_image_b64", "partial_image_index", "image_index", "message", "code", "param",
        "content", "text", "refusal", "object", "incomplete_details", "reason", "revised_prompt", "prompt", "id",
        "model", "size", "output_format", "mime_type"]
leaves = (st.none() | st.booleans() | st.integers(-3, 600) | st.floats(allow_nan=False) | line_text
          | st.sampled_from(TYPES + ["image_generation_call", "message", "output_text", "failed", "generating",
                                     "https://relay.example/i.png", "data:image/png;base64," + B64_FINAL, B64_FINAL,
                                     '{"error":{"message":"inner","code":"moderation_blocked"}}',
                                     '{"message": 5}', "content_filter"]))
json_ish = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(KEYS) | line_text, inner, max_size=5), max_leaves=25)
typed_payloads = st.builds(lambda kind, rest: {**rest, "type": kind} if kind is not None else rest,
                           st.none() | st.sampled_from(TYPES), st.dictionaries(st.sampled_from(KEYS), json_ish, max_size=6))
feed_items = st.lists(st.tuples(typed_payloads | json_ish, st.sampled_from(["message"] + TYPES[:8])), max_size=6)


def run_interpreter(items, *, tolerate=(BridgeError,)) -> list[list]:
    """Every style's reader on the same payloads (none may fail but with a BridgeError): the signals of each."""
    told = []
    for style in STYLES.values():
        interpreter, signals = style.reader(), []
        try:
            for payload, name in items:
                signals += interpreter.feed(payload, name)
            signals += interpreter.closing()
            interpreter.finish()
        except tolerate:
            pass
        told.append(signals)
    return told


@FAST
@given(items=feed_items)
def test_interpreter_raises_only_bridge_errors(items):
    run_interpreter(items)


@FAST
@given(items=feed_items)
def test_interpreter_signals_are_well_formed(items):
    # Crashes are the previous property's business; here only the shape of what comes out counts:
    # the receiver decodes b64 and url as strings.
    for signals in run_interpreter(items, tolerate=(Exception,)):
        assert all(s.kind in ("queued", "accepted", "reasoning", "called", "started", "partial", "rendered", "final")
                   for s in signals)
        assert all(isinstance(s.index, int) for s in signals)
        assert all(s.b64 is None or isinstance(s.b64, str) for s in signals)
        assert all(s.url is None or isinstance(s.url, str) for s in signals)
        assert [s.kind for s in signals].count("accepted") <= 1
        assert [s.kind for s in signals].count("started") <= 1
        assert all([s.kind for s in signals].count(k) <= 1 for k in ("queued", "reasoning", "called", "rendered"))


@FAST
@given(error=json_ish, status=st.none() | st.integers(100, 599))
def test_error_from_payload_always_returns_a_bridge_error(error, status):
    assert isinstance(error_from_payload(error, status), BridgeError)


@FAST
@given(status=st.integers(100, 599), content_type=st.sampled_from(["application/json", "text/html", "text/event-stream",
                                                                  "text/plain", ""]),
       body=st.binary(max_size=200) | json_ish.map(lambda v: json.dumps(v).encode()))
def test_error_from_body_always_returns_a_bridge_error(status, content_type, body):
    err = error_from_body(status, content_type, body)
    assert isinstance(err, BridgeError)
    assert isinstance(err.message, str) and err.message

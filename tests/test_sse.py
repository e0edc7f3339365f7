"""Server-sent events from raw bytes: framing, line ends, keep-alives, [DONE], huge events."""
from __future__ import annotations

import base64
import json
import random

import pytest

import bridge.relay.sse as sse
from bridge.relay.sse import EventBlocks, ServerEvent, iter_blocks, iter_events
from tests.helpers_fixtures import (BOM, FIXTURES, build_transcripts, chunked, iter_chunks_then_fail, parse,
                                    split_at)

TRANSCRIPTS = build_transcripts()
NAMES = sorted(TRANSCRIPTS)


def on_disk(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- the committed transcripts -------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_transcript_file_is_byte_exact(name):
    assert on_disk(name) == TRANSCRIPTS[name].data, "regenerate with: PYTHONPATH=. python -m tests.helpers_fixtures"


def test_every_transcript_file_is_known():
    assert sorted(p.name for p in FIXTURES.glob("*.sse")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_transcript_parses_whole(name):
    assert parse([on_disk(name)]) == list(TRANSCRIPTS[name].events)


@pytest.mark.parametrize("name", NAMES)
def test_transcript_split_at_every_byte_boundary(name):
    data, expected = on_disk(name), list(TRANSCRIPTS[name].events)
    for cut in range(len(data) + 1):
        assert parse([data[:cut], data[cut:]]) == expected, f"split at byte {cut}"


@pytest.mark.parametrize("size", [1, 7, 128])
@pytest.mark.parametrize("name", NAMES)
def test_transcript_in_fixed_size_chunks(name, size):
    assert parse(chunked(on_disk(name), size)) == list(TRANSCRIPTS[name].events)


@pytest.mark.parametrize("name", NAMES)
def test_transcript_split_at_random_points(name):
    data, expected = on_disk(name), list(TRANSCRIPTS[name].events)
    rng = random.Random(name)
    for _ in range(50):
        points = rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 12)))
        assert parse(split_at(data, points)) == expected


def test_line_end_variants_give_identical_events():
    lf, cr, crlf = (parse([on_disk(f"responses_two_partials.{k}.sse")]) for k in ("lf", "cr", "crlf"))
    assert lf == cr == crlf
    assert len(lf) == 10
    assert [name for name, _ in lf][:3] == ["response.created", "response.in_progress", "response.output_item.added"]


# -- field rules ---------------------------------------------------------------------------------

def test_multi_line_data_is_joined_with_lf():
    events = parse([on_disk("multiline_data.sse")])
    name, data = events[0]
    assert name == "response.output_text.done"
    assert "\n" in data
    assert json.loads(data)["nested"] == {"list": [1, 2, 3], "empty": {}}
    assert json.loads(data)["text"] == "two\nlines"  # an escaped LF inside JSON stays escaped
    assert events[1] == ("message", "first\nsecond\n")  # data:x without a space; a bare 'data' line adds ""


def test_one_leading_space_is_removed_and_only_one():
    assert parse([b"data:  two spaces\n\n"]) == [("message", " two spaces")]
    assert parse([b"data:none\n\n"]) == [("message", "none")]


def test_data_only_events_are_named_message():
    events = parse([on_disk("data_only_done.sse")])
    assert {name for name, _ in events} == {"message"}
    assert [json.loads(d)["type"] for _, d in events] == ["response.created", "response.in_progress",
                                                          "response.output_item.added"]


def test_field_with_space_before_colon_is_ignored():
    assert parse([b"data : x\n\ndata: y\n\n"]) == [("message", "y")]


# -- BOM -----------------------------------------------------------------------------------------

def test_bom_is_dropped_and_first_event_kept():
    events = parse([on_disk("bom_at_start.sse")])
    assert [name for name, _ in events] == ["response.created", "response.in_progress"]
    assert not events[0][1].startswith("\ufeff")


@pytest.mark.parametrize("chunks", [
    [BOM, b"data: x\n\n"],
    [BOM[:1], BOM[1:2], BOM[2:], b"data: x\n\n"],
    [BOM[:2], BOM[2:] + b"data: x\n\n"],
    [BOM + b"data: x"],  # and the event is the last one, unterminated
])
def test_bom_split_across_chunks(chunks):
    assert parse(chunks) == [("message", "x")]


def test_only_the_leading_bom_is_special():
    # a BOM in the middle of the stream is part of a (then unknown) field name, as in the WHATWG rules
    assert parse([b"data: a\n\n" + BOM + b"data: b\n\ndata: c\n\n"]) == [("message", "a"), ("message", "c")]


def test_text_starting_like_a_bom_is_not_eaten():
    assert parse([b"\xef", b"\xbc\x9a comment\n\ndata: x\n\n"]) == [("message", "x")]
    assert parse([b"d", b"ata: x\n\n"]) == [("message", "x")]


def test_bom_only_stream_yields_nothing():
    assert parse([BOM]) == []
    assert parse([BOM[:2]]) == []


# -- line ends -----------------------------------------------------------------------------------

def test_cr_then_crlf_and_lf_then_crlf_do_not_merge_events():
    events = parse([on_disk("mixed_cr_crlf_blank_lines.sse")])
    assert [json.loads(d).get("n") for _, d in events] == [0, 1, 2]
    assert all("\n" not in d for _, d in events)


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_crlf_split_across_chunks_is_one_line_end(eol):
    stream = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    expected = [("message", "a\nb"), ("message", "c")]
    for cut in range(len(stream) + 1):
        assert parse([stream[:cut], stream[cut:]]) == expected
    assert parse(chunked(stream, 1)) == expected


def test_empty_chunks_change_nothing():
    stream = on_disk("responses_two_partials.crlf.sse")
    expected = list(TRANSCRIPTS["responses_two_partials.crlf.sse"].events)
    pieces = chunked(stream, 5)
    with_empties = [p for piece in pieces for p in (piece, b"")]
    assert parse([b""] + with_empties) == expected


def test_empty_chunk_between_cr_and_lf_keeps_crlf_one_line_end():
    # A CRLF split as CR | (empty chunk) | LF is still one line end: the two data lines belong to one event.
    assert parse([b"data: a\r", b"", b"\ndata: b\r\n\r\n"]) == [("message", "a\nb")]


# -- comments and keep-alives --------------------------------------------------------------------

def test_comments_and_data_less_events_are_skipped():
    events = parse([on_disk("keepalive_comments.sse")])
    assert [name for name, _ in events] == ["response.created", "ping", "message"]
    assert events[1] == ("ping", "")  # 'event: ping' with an empty data line: dispatched, empty data
    assert events[2] == ("message", "PING")  # not JSON: the receiver counts and skips it


def test_keepalive_blocks_reach_on_block():
    blocks: list[bytes] = []
    list(iter_events([on_disk("keepalive_comments.sse")], on_block=blocks.append))
    assert blocks[0] == b": PING\n\n"
    assert blocks[1] == b":\n\n"
    assert blocks[2] == b"event: ping\n\n"
    assert blocks[-1] == b":\n:\n\n"
    assert sum(1 for b in blocks if all(line.startswith(b":") for line in b.split(b"\n") if line)) == 4


def test_a_stream_of_only_comments_yields_no_event():
    assert parse([b": OPENROUTER PROCESSING\n\n" * 17]) == []


# -- [DONE] --------------------------------------------------------------------------------------

def test_done_stops_iteration():
    events = parse([on_disk("data_only_done.sse")])
    assert all("after.done" not in d for _, d in events)
    assert len(events) == 3


@pytest.mark.parametrize("line", [b"data: [DONE]", b"data:[DONE]", b"data:  [DONE]  ", b"event: done\ndata: [DONE]"])
def test_done_variants(line):
    assert parse([b"data: 1\n\n" + line + b"\n\ndata: 2\n\n"]) == [("message", "1")]


def test_done_does_not_read_further():
    # a relay may keep the connection open after [DONE]; the parser must not ask for more bytes
    chunks = [b"data: 1\n\n", b"data: [DONE]\n\n"]
    assert parse(iter_chunks_then_fail(chunks)) == [("message", "1")]


def test_done_is_not_required():
    assert parse([b"data: 1\n\ndata: 2\n\n"]) == [("message", "1"), ("message", "2")]


# -- end of stream -------------------------------------------------------------------------------

def test_last_event_without_blank_line_is_delivered():
    assert parse([on_disk("last_event_unterminated.sse")])[-1] == TRANSCRIPTS["last_event_unterminated.sse"].events[-1]


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r", b"\r\n", b"\n\n\n"])
def test_last_event_with_any_ending(tail):
    assert parse([b"data: 1\n\nevent: e\ndata: 2" + tail]) == [("message", "1"), ("e", "2")]


def test_empty_stream():
    assert parse([]) == []
    assert parse([b""]) == []
    assert parse([b"\n\n\r\n"]) == []


# -- bodies that are not SSE ---------------------------------------------------------------------

def test_bare_json_body_becomes_one_event():
    events = parse([on_disk("bare_json_error_body.sse")])
    assert len(events) == 1
    assert json.loads(events[0][1])["error"]["type"] == "upstream_error"


def test_bare_json_body_after_keepalive_whitespace():
    body = b'{"error":{"message":"upstream 400: bad","type":"upstream_error","code":"image_stream_failed"}}'
    for prefix in (b" ", b"\n\n\n", b"  \n\n \n"):
        events = parse([prefix + body])
        assert [json.loads(d)["error"]["code"] for _, d in events] == ["image_stream_failed"]


def test_bare_json_line_between_events():
    events = parse([b'data: {"a":1}\n\n{"error":{"message":"x"}}\n\ndata: {"b":2}\n\n'])
    assert [json.loads(d) for _, d in events] == [{"a": 1}, {"error": {"message": "x"}}, {"b": 2}]


def test_invalid_utf8_does_not_raise():
    events = parse([b"data: \xff\xfe ok\n\ndata: next\n\n"])
    assert events[1] == ("message", "next")
    assert events[0][1].endswith(" ok")


def test_multibyte_character_split_across_chunks():
    stream = "data: {\"text\":\"héllo ✓ 画像\"}\n\n".encode()
    for cut in range(len(stream) + 1):
        assert json.loads(parse([stream[:cut], stream[cut:]])[0][1]) == {"text": "héllo ✓ 画像"}


# -- on_block ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_on_block_sees_every_block(name):
    data = on_disk(name)
    blocks: list[bytes] = []
    events = list(iter_events(chunked(data, 7), on_block=blocks.append))
    assert all(isinstance(b, bytes) and b.endswith(b"\n\n") for b in blocks)
    assert all(b"\r" not in b for b in blocks)
    assert len(blocks) >= len(events)
    if name in ("data_only_done.sse",):
        return  # iteration stops at [DONE]; later blocks are never read
    normalised = data.removeprefix(BOM).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if name != "bare_json_error_body.sse":  # that one is rewritten into data: lines
        assert b"".join(blocks).strip(b"\n") == normalised.strip(b"\n")


def test_iter_blocks_matches_on_block():
    data = on_disk("keepalive_comments.sse")
    seen: list[bytes] = []
    assert list(iter_blocks(chunked(data, 3), on_block=seen.append)) == seen


def test_eventblocks_feed_and_close():
    splitter = EventBlocks()
    assert splitter.feed(b"data: a\n") == []
    assert splitter.feed(b"\ndata: b") == [b"data: a\n\n"]
    assert splitter.close() == [b"data: b\n\n"]
    assert splitter.close() == []


def test_server_event_fields():
    event = next(iter_events([b"event: x\ndata: y\n\n"]))
    assert event == ServerEvent(name="x", data="y")


# -- huge events: correct and linear (no timing) -------------------------------------------------

def _big_stream(size: int = 4_500_000) -> tuple[bytes, str]:
    b64 = base64.b64encode(random.Random(6).randbytes(size)).decode()
    payload = json.dumps({"type": "response.image_generation_call.partial_image", "partial_image_index": 0,
                          "partial_image_b64": b64})
    stream = (": PING\n\nevent: response.image_generation_call.partial_image\ndata: " + payload
              + "\n\ndata: [DONE]\n\n").encode()
    return stream, b64


class _CountingSSEClient(sse.SSEClient):
    """The real sseclient, with a count of the chunks it is handed."""

    chunks: list[int] = []

    def __init__(self, source, *args, **kwargs):
        def counted():
            for chunk in source:
                _CountingSSEClient.chunks.append(len(chunk))
                yield chunk
        super().__init__(counted(), *args, **kwargs)


@pytest.fixture
def counting_sseclient(monkeypatch):
    _CountingSSEClient.chunks = []
    monkeypatch.setattr(sse, "SSEClient", _CountingSSEClient)
    return _CountingSSEClient


def test_six_megabyte_event_in_128_byte_chunks(counting_sseclient):
    stream, b64 = _big_stream()
    assert len(b64) >= 6_000_000
    chunks = chunked(stream, 128)
    assert len(chunks) > 45_000
    events = list(iter_events(chunks))
    assert len(events) == 1
    assert events[0].name == "response.image_generation_call.partial_image"
    assert json.loads(events[0].data)["partial_image_b64"] == b64
    # sseclient stitches long lines with bytes += per chunk (quadratic); it must see whole blocks only:
    # the keep-alive, the image event and [DONE], never 47,000 slivers.
    assert len(counting_sseclient.chunks) <= 3
    assert max(counting_sseclient.chunks) >= len(b64)


def test_sseclient_sees_one_chunk_per_block(counting_sseclient):
    data = on_disk("responses_two_partials.crlf.sse")
    events = list(iter_events(chunked(data, 1)))
    assert len(counting_sseclient.chunks) == len(events) == 10


class _ScanCountingBuffer(bytearray):
    """A bytearray that adds up how many bytes its find() calls look at."""

    scanned = 0

    def find(self, sub, start=0, end=None):  # type: ignore[override]
        start = max(start or 0, 0)
        found = super().find(sub, start) if end is None else super().find(sub, start, end)
        _ScanCountingBuffer.scanned += (found + len(sub) if found >= 0 else len(self)) - start
        return found


def _scanned_while_splitting(chunks: list[bytes]) -> tuple[int, list[bytes]]:
    splitter = EventBlocks()
    assert isinstance(getattr(splitter, "_buf", None), bytearray), "EventBlocks internals changed; update this guard"
    splitter._buf = _ScanCountingBuffer()
    _ScanCountingBuffer.scanned = 0
    blocks = []
    for chunk in chunks:
        blocks += splitter.feed(chunk)
    blocks += splitter.close()
    return _ScanCountingBuffer.scanned, blocks


def test_eventblocks_scans_each_byte_a_bounded_number_of_times():
    stream, _ = _big_stream(600_000)  # 800 kB of base64 in 128-byte chunks: rescanning would be ~2.5 GB
    scanned, blocks = _scanned_while_splitting(chunked(stream, 128))
    assert len(blocks) == 3
    assert scanned <= 3 * len(stream)


def test_many_small_events_in_one_read_are_split_in_linear_work(counting_sseclient):
    stream = b"".join(b'data: {"n":%d}\n\n' % n for n in range(20_000))
    scanned, blocks = _scanned_while_splitting([stream])
    assert len(blocks) == 20_000
    assert scanned <= 3 * len(stream)
    events = list(iter_events([stream]))
    assert [json.loads(e.data)["n"] for e in events[:3]] == [0, 1, 2] and len(events) == 20_000
    assert len(counting_sseclient.chunks) == 20_000

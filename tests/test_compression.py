"""Content-Encoding decoding from byte transcripts, split anywhere; bombs stay bounded per step."""
from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.relay.compression import STEP, Decoder
from bridge.errors import ProtocolError

BODY = b'event: response.created\ndata: {"type":"response.created"}\n\n' * 200


def _encode(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "deflate":
        return zlib.compress(data)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def _decode(header: str | None, pieces: list[bytes]) -> bytes:
    decoder = Decoder(header)
    out = b"".join(b"".join(decoder.feed(p)) for p in pieces)
    decoder.close()
    return out


@pytest.mark.parametrize("kind, header", [("gzip", "gzip"), ("gzip", "x-gzip"), ("deflate", "deflate"),
                                          ("raw", "deflate"), ("gzip", "identity, gzip")])
def test_each_encoding_decodes(kind, header):
    assert _decode(header, [_encode(kind, BODY)]) == BODY


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["gzip", "deflate", "raw"]), cuts=st.lists(st.integers(0, 4000), max_size=12))
def test_split_anywhere(kind, cuts):
    data = _encode(kind, BODY)
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]
    assert _decode("gzip" if kind == "gzip" else "deflate", pieces) == BODY


def test_identity_and_none_pass_bytes_through():
    assert _decode(None, [b"ab", b"", b"c"]) == b"abc" and _decode("identity", [b"x"]) == b"x"


def test_two_gzip_members():
    assert _decode("gzip", [gzip.compress(b"one ") + gzip.compress(b"two")]) == b"one two"


def test_a_bomb_comes_out_in_bounded_steps():
    bomb = gzip.compress(b"\0" * (64 * STEP))
    pieces = list(Decoder("gzip").feed(bomb))
    assert len(bomb) < 200_000 and max(map(len, pieces)) <= STEP and sum(map(len, pieces)) == 64 * STEP


@pytest.mark.parametrize("header", ["br", "zstd", "gzip, br", "compress"])
def test_unknown_encodings_are_refused_clearly(header):
    with pytest.raises(ProtocolError) as info:
        Decoder(header)
    assert info.value.code == "unexpected_content" and "does not decode" in info.value.message


def test_corrupt_and_cut_streams_fail_cleanly():
    with pytest.raises(ProtocolError):
        _decode("gzip", [b"\x1f\x8b\x08\x00garbage-garbage-garbage"])
    with pytest.raises(ProtocolError):
        _decode("gzip", [gzip.compress(BODY)[:-20]])

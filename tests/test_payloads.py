"""Image payloads decoded as they arrive, from byte transcripts split anywhere."""
from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.relay.payloads import Extractor
from bridge.relay.sse import iter_events

IMAGE = os.urandom(20_000)
B64 = base64.b64encode(IMAGE).decode()


def _mime(text: str, sep: str = "\n") -> str:
    return sep.join(text[i:i + 76] for i in range(0, len(text), 76))


ENCODINGS = {
    "plain": lambda s: json.dumps(s),
    "escaped slashes (PHP)": lambda s: json.dumps(s).replace("/", "\\/"),
    "MIME line breaks": lambda s: json.dumps(_mime(s)),
    "MIME CRLF line breaks": lambda s: json.dumps(_mime(s, "\r\n")),
    "unicode escapes": lambda s: json.dumps(s).replace("/", "\\u002f").replace("+", "\\u002B"),
    "padding and spaces": lambda s: json.dumps(" " + s + " "),
}
FIELDS = {
    "result": lambda v: '{"type":"response.output_item.done","output_index":0,"item":{"type":"image_generation_call","result":%s}}' % v,
    "partial_image_b64": lambda v: '{"type":"response.image_generation_call.partial_image","partial_image_b64":%s}' % v,
    "b64_json": lambda v: '{"type":"image_generation.completed","b64_json":%s,"usage":{}}' % v,
    "data url": lambda v: '{"created":1,"data":[{"url":%s}]}' % v.replace('"', '"data:image/png;base64,', 1),
}


def _run(raw: bytes, cuts: list[int], tmp_path) -> tuple[Extractor, bytes]:
    extractor = Extractor(tmp_path, 1 << 26)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)])]
    return extractor, b"".join(extractor.feed(p) for p in pieces)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("field", FIELDS)
def test_every_escape_form_in_every_field(tmp_path, encoding, field):
    event = FIELDS[field](ENCODINGS[encoding](B64))
    raw = f"event: x\ndata: {event}\n\n".encode()
    extractor, reduced = _run(raw, list(range(7, len(raw), 997)), tmp_path)
    (payload,) = extractor.payloads.values()
    assert payload.problem is None and payload.path.read_bytes() == IMAGE
    parsed = json.loads(reduced.split(b"data: ", 1)[1])
    assert len(reduced) < 400 and extractor.lookup(json.dumps(parsed)[:0] or _value(parsed)) is payload


def _value(parsed):
    for key in ("result", "partial_image_b64", "b64_json", "url"):
        if isinstance(parsed, dict):
            if key in parsed:
                return parsed[key]
            for inner in parsed.values():
                found = _value(inner) if isinstance(inner, (dict, list)) else None
                if found:
                    return found
        elif isinstance(parsed, list):
            for inner in parsed:
                found = _value(inner)
                if found:
                    return found
    return None


@settings(max_examples=200, deadline=None)
@given(encoding=st.sampled_from(sorted(ENCODINGS)), cuts=st.lists(st.integers(0, 30_000), max_size=20))
def test_split_anywhere(tmp_path_factory, encoding, cuts):
    tmp = tmp_path_factory.mktemp("p")
    raw = f"data: {FIELDS['b64_json'](ENCODINGS[encoding](B64))}\n\n".encode()
    extractor, reduced = _run(raw, cuts, tmp)
    (payload,) = extractor.payloads.values()
    assert payload.path.read_bytes() == IMAGE and payload.chars == len(B64)
    assert [json.loads(e.data)["b64_json"] for e in iter_events([reduced])] == ["__irb_payload_1__"]


def test_the_repeated_final_image_is_skipped_without_decoding(tmp_path):
    done = FIELDS["result"](json.dumps(B64))
    completed = ('{"type":"response.completed","response":{"output":[{"type":"image_generation_call","result":%s}]}}'
                 % json.dumps(B64))
    raw = f"event: response.output_item.done\ndata: {done}\n\nevent: response.completed\ndata: {completed}\n\n".encode()
    extractor, reduced = _run(raw, [100, 5000, 26_000], tmp_path)
    first, second = extractor.payloads.values()
    assert first.path.read_bytes() == IMAGE and not first.skipped
    assert second.skipped and second.path is None and second.chars == len(B64)
    assert b"__irb_skipped_2__" in reduced
    assert b"a repeat of the final image" in extractor.log_text(reduced)


def test_final_only_in_completed_is_decoded(tmp_path):
    completed = ('{"type":"response.completed","response":{"output":[{"type":"image_generation_call","result":%s}]}}'
                 % json.dumps(B64))
    extractor, _ = _run(f"data: {completed}\n\n".encode(), [], tmp_path)
    (payload,) = extractor.payloads.values()
    assert not payload.skipped and payload.path.read_bytes() == IMAGE


def test_links_and_small_fields_pass_through_untouched(tmp_path):
    raw = (b'data: {"type":"image_generation.completed","url":"https:\\/\\/files.example\\/a.png",'
           b'"result":"","text":"say \\"result\\":\\"x\\""}\n\n')
    extractor, reduced = _run(raw, [20, 41, 60], tmp_path)
    assert reduced == raw and extractor.payloads == {}


def test_invalid_base64_is_a_problem_not_a_crash(tmp_path):
    extractor, reduced = _run(b'data: {"b64_json":"!!!not base64!!!"}\n\n', [], tmp_path)
    (payload,) = extractor.payloads.values()
    assert payload.problem.startswith("bad_image:") and payload.path is None and b"__irb_payload_1__" in reduced


def test_a_stream_cut_mid_payload_leaves_no_file(tmp_path):
    raw = f"data: {FIELDS['b64_json'](json.dumps(B64))}".encode()[:15_000]
    folder = tmp_path / "out"
    folder.mkdir()
    extractor, _ = _run(raw, [5000], folder)
    extractor.close()
    assert list(folder.iterdir()) == []


def test_the_raw_log_gets_counts_and_a_hash(tmp_path):
    import hashlib
    extractor, reduced = _run(f"data: {FIELDS['b64_json'](json.dumps(B64))}\n\n".encode(), [], tmp_path)
    digest = hashlib.sha256(B64.encode()).hexdigest()[:12]
    assert f"<base64 {len(B64)} chars sha256:{digest}>".encode() in extractor.log_text(reduced)


# -- data URLs inside text (chat and Responses answers converted from Gemini) --------------------------

TEXT_KW = {"keys": ("b64_json", "base64"), "links": ("url", "image_url"), "text_images": True}


def _text_run(raw: bytes, cuts: list[int], tmp_path) -> tuple[Extractor, bytes]:
    extractor = Extractor(tmp_path, 1 << 26, **TEXT_KW)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)])]
    reduced = b"".join(extractor.feed(p) for p in pieces)
    extractor.end_of_answer()
    return extractor, reduced


def _chat(content: str, *, delta: bool = False, slashes: bool = False) -> bytes:
    key = "delta" if delta else "message"
    text = json.dumps({"choices": [{"index": 0, key: {"role": "assistant", "content": content}}]})
    return f"data: {text.replace('/', chr(92) + '/') if slashes else text}\n\n".encode()


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(0, 30_000), max_size=25), slashes=st.booleans(),
       form=st.sampled_from(["markdown", "bare", "prose"]))
def test_a_data_url_in_text_is_decoded_wherever_the_chunks_split(tmp_path_factory, cuts, slashes, form):
    url = "data:image/png;base64," + B64
    content = {"markdown": f"Here it is.\n![image]({url})", "bare": url, "prose": f"Done: {url} (png)"}[form]
    extractor, reduced = _text_run(_chat(content, slashes=slashes), cuts, tmp_path_factory.mktemp("t"))
    (payload,) = extractor.payloads.values()
    assert payload.problem is None and payload.path.read_bytes() == IMAGE
    said = json.loads(reduced.split(b"data: ", 1)[1])["choices"][0]["message"]["content"]
    assert said == content.replace(url, "__irb_payload_1__")


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, 30_000), max_size=25), pieces=st.integers(2, 9))
def test_a_markdown_image_split_over_deltas_is_one_payload(tmp_path_factory, cuts, pieces):
    content = "Look ![image](data:image/png;base64," + B64 + ") done"
    step = -(-len(content) // pieces)
    raw = b"".join(_chat(content[i:i + step], delta=True) for i in range(0, len(content), step))
    extractor, reduced = _text_run(raw, cuts, tmp_path_factory.mktemp("s"))
    (payload,) = extractor.payloads.values()
    assert payload.path.read_bytes() == IMAGE and payload.continued == (step < len(content) - 5)
    said = "".join(json.loads(e.data)["choices"][0]["delta"]["content"] for e in iter_events([reduced]))
    assert said == "Look ![image](__irb_payload_1__) done"


def test_text_that_merely_mentions_data_urls_is_left_alone(tmp_path):
    raw = _chat("Use data:image/png;base64, then the bytes; or data:text/plain;base64,SGk=.")
    for cuts in ([], [30, 31, 32, 33], list(range(1, len(raw)))):
        extractor, reduced = _text_run(raw, cuts, tmp_path)
        assert reduced == raw and extractor.payloads == {}


def test_an_images_array_data_url_and_a_gemini_inline_part(tmp_path):
    chat = (b'data: {"choices":[{"delta":{"images":[{"type":"image_url","image_url":{"url":"data:image/png;base64,'
            + B64.encode() + b'"}}]}}]}\n\n')
    extractor, reduced = _text_run(chat, [77, 9000], tmp_path)
    assert next(iter(extractor.payloads.values())).path.read_bytes() == IMAGE and b'"url":"__irb_payload_1__"' in reduced
    gemini = Extractor(tmp_path, 1 << 26, keys=("data",), links=())
    body = json.dumps({"candidates": [{"content": {"parts": [{"inline_data": {"mime_type": "image/png",
                                                                               "data": B64}}]}}]}).encode()
    reduced = gemini.feed(body[:500]) + gemini.feed(body[500:])
    assert next(iter(gemini.payloads.values())).path.read_bytes() == IMAGE and b'"data": "__irb_payload_1__"' in reduced

"""Replay answers recorded from live upstreams (tests/fixtures/real, see its README) end to end:
bytes -> SSE events -> interpreter signals -> decoded image -> format and size read from the bytes."""
from __future__ import annotations

import json
import re

import pytest

from bridge.images.b64 import decode_base64
from bridge.images.integrity import check_image as verify
from bridge.errors import ProtocolError, RelayRejected
from bridge.relay.diagnose import error_from_body
from bridge.images.sniff import read_info
from bridge.relay.sse import iter_events
from tests.helpers_fixtures import REAL, chunked, jsonl_as_sse, replay, replay_bytes, vcr_strings

PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def real_text(name: str) -> str:
    return (REAL / name).read_text("utf-8")


def jsonl(name: str) -> list[str]:
    return [line for line in real_text(name).split("\n") if line.strip()]


def stream_forms(name: str) -> dict[str, list[bytes]]:
    """The recorded payloads as SSE, with and without event: lines, whole and in small chunks."""
    lines = jsonl(name)
    named, bare = jsonl_as_sse(lines, with_event_lines=True), jsonl_as_sse(lines, with_event_lines=False)
    return {"event-lines": [named], "data-only": [bare], "event-lines-7b": chunked(named, 7),
            "data-only-128b": chunked(bare, 128)}


def session_body(name: str, entry: int = 0) -> dict:
    return json.loads(real_text(name))["Entries"][entry]["ResponseBody"]


def summary(run) -> list[tuple]:
    return [(s.kind, s.index, s.b64, s.url, tuple(sorted(s.meta.items()))) for s in run.signals]


def test_every_copied_file_is_described_in_the_readme():
    readme = real_text("README.md")
    for path in REAL.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme


# -- vercel/ai chunk recordings (Responses streams) ----------------------------------------------

CHUNK_FILES = [
    "vercel-ai__openai-responses-image-tool-stream.chunks.jsonl",
    "vercel-ai__azure-responses-image-tool-stream-status-generating.chunks.jsonl",
    "vercel-ai__xai-responses-image-tool-stream-sanitized.chunks.jsonl",
    "vercel-ai__github-copilot-responses-stream-item-id-rotation.chunks.jsonl",
]


@pytest.mark.parametrize("name", CHUNK_FILES)
def test_event_lines_and_data_only_give_the_same_outcome(name):
    runs = {form: replay_bytes(chunks, catch=True) for form, chunks in stream_forms(name).items()}
    first = runs["event-lines"]
    assert first.error is None
    for form, run in runs.items():
        assert run.error is None, form
        assert summary(run) == summary(first), form
        assert run.interpreter.outcome == first.interpreter.outcome, form


@pytest.mark.parametrize("name", CHUNK_FILES)
def test_every_recorded_payload_becomes_one_event(name):
    lines = jsonl(name)
    for with_event_lines in (True, False):
        events = list(iter_events([jsonl_as_sse(lines, with_event_lines=with_event_lines)]))
        assert [e.data for e in events] == lines
        if with_event_lines:
            assert [e.name for e in events] == [json.loads(line)["type"] for line in lines]
        else:
            assert {e.name for e in events} == {"message"}


def test_openai_stream_one_partial_one_final_not_repeated():
    name = "vercel-ai__openai-responses-image-tool-stream.chunks.jsonl"
    assert len(jsonl(name)) == 16
    run = replay_bytes(stream_forms(name)["event-lines"])
    # every image event of the SDK arrives in a live OpenAI stream, .completed included; each is told once
    assert [(s.kind, s.index) for s in run.signals] == [("accepted", 0), ("reasoning", 0), ("called", 0), ("started", 0),
                                                        ("partial", 0), ("rendered", 0), ("final", 1)]
    (p,) = run.partials()
    # undocumented fields on the partial hold resolved values (size auto -> 1536x1024, background auto -> opaque)
    assert p.meta == {"size": "1536x1024", "quality": "low", "background": "opaque", "output_format": "webp"}
    (final,) = run.finals()
    assert final.b64.startswith("UklGR")  # RIFF....WEBP
    assert final.b64[:40] == p.b64[:40] and final.b64[-40:] == p.b64[-40:]  # the single partial is the final
    outcome = run.interpreter.outcome
    assert outcome.response_id == "resp_0df93c0bb83a72f20068c979db26ac819e8b5a444fad3f0d7f"
    assert outcome.revised_prompt
    assert outcome.event_counts["response.completed"] == 1
    run.interpreter.finish()
    with pytest.raises(ProtocolError) as info:  # the source project cut the base64 short: not decodable
        decode_base64(final.b64)
    assert info.value.code == "bad_image"


def test_azure_final_found_despite_status_generating_and_no_completed_event():
    name = "vercel-ai__azure-responses-image-tool-stream-status-generating.chunks.jsonl"
    payloads = [json.loads(line) for line in jsonl(name)]
    done = [p for p in payloads if p["type"] == "response.output_item.done" and p["item"]["type"] == "image_generation_call"]
    assert [d["item"]["status"] for d in done] == ["generating"]
    assert not any(p["type"] == "response.image_generation_call.completed" for p in payloads)
    assert payloads[-1]["response"]["output"][0]["status"] == "generating"

    run = replay_bytes(stream_forms(name)["event-lines"])
    assert [(s.kind, s.index) for s in run.signals] == [("accepted", 0), ("called", 0), ("started", 0), ("partial", 0),
                                                        ("final", 0)]
    outcome = run.interpreter.outcome
    assert "response.image_generation_call.completed" not in outcome.event_counts
    assert outcome.model == "gpt-4.1-mini"
    assert outcome.usage["total_tokens"] == 2046
    assert outcome.revised_prompt.startswith("anime-style cute raccoon")
    assert outcome.text == ["Here is an anime-like image of a cute raccoon waving hello. If you want any changes "
                            "or another style, just let me know!"]
    run.interpreter.finish()
    data = decode_base64(run.finals()[0].b64)
    assert len(data) == 69 and data.endswith(PNG_END)
    info = verify(data)
    assert (info.format, info.width, info.height) == ("png", 1, 1)


def test_xai_stream_prompt_becomes_revised_prompt_and_no_partials():
    name = "vercel-ai__xai-responses-image-tool-stream-sanitized.chunks.jsonl"
    run = replay_bytes(stream_forms(name)["data-only"])
    assert run.partials() == []
    (final,) = run.finals()
    assert final.index == 0 and final.meta == {}  # no size or format fields from xAI
    outcome = run.interpreter.outcome
    assert outcome.revised_prompt.startswith("A delicate origami paper boat sailing gently on a tranquil pond")
    assert outcome.model == "grok-4.5"
    assert outcome.usage["cost_in_usd_ticks"] == 123456
    run.interpreter.finish()
    # the source project replaced the image with the base64 of a short text
    assert decode_base64(final.b64) == b"fakeImageBase64Data"
    assert read_info(b"fakeImageBase64Data") is None
    with pytest.raises(ProtocolError) as info:
        verify(decode_base64(final.b64))
    assert info.value.code == "bad_image"


def test_xai_added_item_with_null_result_is_not_an_image():
    name = "vercel-ai__xai-responses-image-tool-stream-sanitized.chunks.jsonl"
    added = [line for line in jsonl(name) if '"response.output_item.added"' in line and "image_generation_call" in line]
    assert json.loads(added[0])["item"]["result"] is None
    run = replay([("message", added[0])])
    assert [s.kind for s in run.signals] == ["accepted", "called"]


def test_copilot_rotated_ids_text_only_answer():
    name = "vercel-ai__github-copilot-responses-stream-item-id-rotation.chunks.jsonl"
    payloads = [json.loads(line) for line in jsonl(name)]
    assert len(payloads) == 69
    ids = [p.get("item_id") or (p.get("item") or {}).get("id") for p in payloads]
    ids = [i for i in ids if i]
    assert len(ids) == len(set(ids)) > 60  # a new id on every event
    run = replay_bytes(stream_forms(name)["data-only"])
    assert [s.kind for s in run.signals] == ["accepted", "reasoning"]
    with pytest.raises(ProtocolError) as info:
        run.interpreter.finish()
    assert info.value.code == "text_only"
    assert "There are **3** letter" in info.value.message


# -- OpenRouter VCR cassettes (raw SSE bodies) ---------------------------------------------------

def test_openrouter_responses_stream_comment_keepalive_no_event_lines_done():
    (body,) = vcr_strings(real_text("pydantic-ai__openrouter-responses-stream-comment-keepalive-no-event-lines.cassette.yaml"))
    assert body.startswith(b": OPENROUTER PROCESSING\n\ndata: ")
    assert b"\nevent:" not in body and not body.startswith(b"event:")
    assert body.endswith(b"data: [DONE]\n\n")
    data_lines = body.count(b"\ndata: ")
    for chunks in ([body], chunked(body, 1), chunked(body, 128)):
        blocks: list[bytes] = []
        events = list(iter_events(chunks, on_block=blocks.append))
        assert {e.name for e in events} == {"message"}
        assert len(events) == data_lines - 1  # every data line but [DONE]
        assert blocks[0] == b": OPENROUTER PROCESSING\n\n"
    run = replay_bytes([body])
    outcome = run.interpreter.outcome
    assert outcome.response_id.startswith("gen-")
    assert outcome.model == "openai/gpt-oss-20b"
    assert outcome.usage["total_tokens"] == 115
    with pytest.raises(ProtocolError) as info:
        run.interpreter.finish()
    assert info.value.code == "text_only" and '"4"' in info.value.message


def test_openrouter_chat_error_inside_200_stream():
    (body,) = vcr_strings(real_text("pydantic-ai__openrouter-chat-stream-error-inside-200.cassette.yaml"))
    assert body.count(b": OPENROUTER PROCESSING\n\n") == 17
    blocks: list[bytes] = []
    events = list(iter_events(chunked(body, 64), on_block=blocks.append))
    assert sum(1 for b in blocks if b.startswith(b":")) == 17
    assert len(events) == 4
    run = replay(((e.name, e.data) for e in events), catch=True)
    assert [s.kind for s in run.signals] == []
    assert isinstance(run.error, RelayRejected)
    assert run.error.code == "rejected"
    assert run.error.status_code == 400
    assert "Token limit reached" in run.error.message
    assert run.error.exit_code == 4


# -- Images API bodies ---------------------------------------------------------------------------

def test_prism_edit_full_png_decodes():
    raw = (REAL / "prism__openai-images-edits-multiple-full-b64.json").read_bytes()
    assert raw.startswith(b"{\n  ")  # pretty-printed on the wire
    body = json.loads(raw)
    assert "output_tokens_details" not in body["usage"]
    run = replay([("message", raw.decode())])
    (final,) = run.finals()
    assert len(final.b64) == 1_647_932
    data = decode_base64(final.b64)
    assert len(data) == 1_235_948
    assert data.endswith(PNG_END)
    info = verify(data)
    assert (info.format, info.size) == ("png", "1024x1024")
    assert final.meta == {"size": "1024x1024", "output_format": "png", "quality": "high", "background": "opaque"}
    assert run.interpreter.outcome.usage["total_tokens"] == 4733
    run.interpreter.finish()


def test_prism_body_served_as_event_stream_gives_the_same_image():
    raw = (REAL / "prism__openai-images-edits-multiple-full-b64.json").read_bytes()
    whole = replay([("message", raw.decode())])
    for chunks in ([raw], chunked(raw, 4096)):
        run = replay_bytes(chunks)
        assert summary(run) == summary(whole)


def test_ruby_llm_edit_json_body_png_decodes():
    request, response = vcr_strings(real_text("ruby_llm__openai-images-edits-json-body-gpt-image-1.5.cassette.yml"))
    assert json.loads(request)["images"][0]["image_url"].startswith("data:image/png;base64,")
    assert response.startswith(b"{\n  \"created\"")
    body = json.loads(response)
    assert body["usage"]["output_tokens_details"]["text_tokens"] == 143
    run = replay([("message", response.decode())])
    (final,) = run.finals()
    assert len(final.b64) == 919_088
    data = decode_base64(final.b64)
    assert len(data) == 689_314 and data.endswith(PNG_END)
    assert read_info(data).size == "1024x1024"
    assert final.meta["size"] == "1024x1024"
    run.interpreter.finish()


def test_ruby_llm_edit_400_user_error():
    _, response = vcr_strings(real_text("ruby_llm__openai-images-edits-400-image_generation_user_error.cassette.yml"))
    err = error_from_body(400, "application/json", response)
    assert isinstance(err, RelayRejected)
    assert err.code == "rejected"
    assert err.status_code == 400
    assert err.param == "images[0].image_url"
    assert err.upstream_code == "invalid_image_file"
    assert "Invalid image data." in err.message


def test_ruby_llm_xai_url_result_and_downloaded_jpeg():
    request, response, download_request, jpeg = vcr_strings(real_text("ruby_llm__xai-images-generations-url.cassette.yml"))
    assert json.loads(request) == {"model": "grok-imagine-image", "prompt": "a siamese cat"}
    body = json.loads(response)
    assert "created" not in body
    run = replay([("message", response.decode())])
    (final,) = run.finals()
    assert final.b64 is None
    assert re.fullmatch(r"https://imgen\.x\.ai/xai-imgen/xai-tmp-imgen-[0-9a-f-]+\.jpeg", final.url)
    assert final.meta == {"mime_type": "image/jpeg"}
    assert run.interpreter.outcome.usage == {"cost_in_usd_ticks": 200000000}
    run.interpreter.finish()
    assert download_request == b""
    assert len(jpeg) == 244_664 and jpeg.startswith(b"\xff\xd8\xff") and jpeg.endswith(b"\xff\xd9")
    info = verify(jpeg)
    assert (info.format, info.width, info.height) == ("jpeg", 1248, 832)


def test_openai_dotnet_n2_two_finals_format_read_from_bytes():
    body = session_body("openai-dotnet__images-generations-gpt-image-1-n2-webp.session.json")
    run = replay([("message", json.dumps(body))])
    finals = run.finals()
    assert [f.index for f in finals] == [0, 1]
    for final in finals:
        assert final.meta["output_format"] == "webp"  # what the body claims ...
        info = verify(decode_base64(final.b64))
        assert (info.format, info.size) == ("png", "1x1")  # ... and what the bytes are
    assert run.interpreter.outcome.usage["output_tokens_details"]["image_tokens"] > 0
    run.interpreter.finish()


def test_openai_dotnet_dalle3_url_with_revised_prompt():
    body = session_body("openai-dotnet__images-generations-dall-e-3-url.session.json")
    run = replay([("message", json.dumps(body))])
    (final,) = run.finals()
    assert final.b64 is None
    assert final.url.startswith("https://oaidalleapiprodscus.blob.core.windows.net/private/")
    assert run.interpreter.outcome.revised_prompt
    assert run.interpreter.outcome.usage is None
    run.interpreter.finish()


def test_openai_dotnet_401_is_unauthorized():
    entry = json.loads(real_text("openai-dotnet__images-generations-401-invalid-api-key.session.json"))["Entries"][0]
    assert entry["StatusCode"] == 401
    err = error_from_body(401, "application/json", json.dumps(entry["ResponseBody"]).encode())
    assert isinstance(err, RelayRejected)
    assert err.code == "unauthorized"
    assert err.status_code == 401
    assert err.upstream_code == "invalid_api_key"
    assert "Incorrect API key provided" in err.message
    assert err.exit_code == 4


def test_openai_dotnet_401_body_inside_a_200_is_still_unauthorized():
    body = session_body("openai-dotnet__images-generations-401-invalid-api-key.session.json")
    run = replay([("message", json.dumps(body))], catch=True)
    assert isinstance(run.error, RelayRejected) and run.error.code == "unauthorized"


# -- Responses non-stream bodies -----------------------------------------------------------------

def test_azure_nonstream_body():
    run = replay([("message", real_text("vercel-ai__azure-responses-image-tool-nonstream.json"))])
    (final,) = run.finals()
    assert final.index == 0
    assert verify(decode_base64(final.b64)).size == "1x1"
    assert run.interpreter.outcome.revised_prompt.startswith("anime-style cute cat")
    run.interpreter.finish()


def test_openai_nonstream_body_truncated_by_source():
    run = replay([("message", real_text("vercel-ai__openai-responses-image-tool-nonstream.json"))])
    (final,) = run.finals()
    assert final.index == 1  # after a reasoning item
    assert run.interpreter.outcome.model == "gpt-5-nano-2025-08-07"
    with pytest.raises(ProtocolError):
        decode_base64(final.b64)


def test_pydantic_nonstream_jpeg_result_decodes():
    text = real_text("pydantic-ai__openai-responses-image-tool-nonstream-jpeg.cassette.yaml")
    text = text[text.index("\n  response:"):]  # the request's tool echo says size: auto
    result = re.search(r"^ {8}result: (\S+)$", text, re.M).group(1)
    assert re.search(r"^ {6}- '89803'$", text, re.M)  # openai-processing-ms: about 90 s for one image
    size = re.search(r"^ {8}size: (\S+)$", text, re.M).group(1)
    fmt = re.search(r"^ {8}output_format: (\S+)$", text, re.M).group(1)
    assert len(result) == 187_880
    body = {"id": "resp_08acbdf1ae54befc0068dd9ced226c8197a2e974b29c565407", "object": "response",
            "status": "completed", "output": [
                {"type": "reasoning", "summary": []},
                {"type": "image_generation_call", "status": "completed", "result": result, "size": size,
                 "output_format": fmt, "quality": "high", "background": "opaque"},
                {"type": "message", "content": [{"type": "output_text", "text": ""}]}]}
    run = replay([("message", json.dumps(body))])
    (final,) = run.finals()
    assert final.index == 1 and final.meta["output_format"] == "jpeg"
    data = decode_base64(final.b64)
    assert len(data) == 140_908 and data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    info = verify(data)
    assert (info.format, info.size) == ("jpeg", size) == ("jpeg", "1536x1024")
    run.interpreter.finish()

"""The event interpreter: relay payloads (streamed or whole) to accepted/started/partial/final signals."""
from __future__ import annotations

import json

import pytest

from bridge.images.b64 import decode_base64
from bridge.errors import BridgeError, ExitCode, ProtocolError, RelayFailure, RelayRejected
from bridge.relay.events import Reader, Signal
from bridge.relay.styles.images import ImagesReader
from bridge.relay.styles.responses import ResponsesReader
from bridge.images.sniff import read_info
from tests.helpers_fixtures import (B64_FINAL, B64_PARTIAL_0, B64_SECOND, FIXTURES, PNG_FINAL, build_transcripts,
                                    is_images_payload, replay, replay_bytes)

TRANSCRIPTS = build_transcripts()


def Interpreter(*payloads, names=None) -> Reader:
    """The reader of the mode these payloads come from: the Images API's or the Responses API's."""
    names = names or ["message"] * len(payloads)
    images = any(is_images_payload(p, n) for p, n in zip(payloads, names))
    return ImagesReader() if images else ResponsesReader()


def feed_all(*payloads, names=None) -> tuple[Reader, list[Signal]]:
    interpreter = Interpreter(*payloads, names=names)
    signals: list[Signal] = []
    for i, payload in enumerate(payloads):
        name = names[i] if names else "message"
        signals += interpreter.feed(payload, name)
    return interpreter, signals


def kinds(signals: list[Signal]) -> list[str]:
    return [s.kind for s in signals]


def finals(signals: list[Signal]) -> list[Signal]:
    return [s for s in signals if s.kind == "final"]


def image_item(result=B64_FINAL, status="completed", item_id="ig_1", **extra) -> dict:
    return {"id": item_id, "type": "image_generation_call", "status": status, "result": result, **extra}


def item_done(item: dict, output_index: int = 0) -> dict:
    return {"type": "response.output_item.done", "output_index": output_index, "item": item}


def completed(output: list, **response) -> dict:
    return {"type": "response.completed", "response": {"id": "resp_1", "object": "response", "status": "completed",
                                                       "model": "gpt-5", "output": output, **response}}


def transcript_replay(name: str):
    return replay_bytes([(FIXTURES / name).read_bytes()], catch=True)


# -- Responses: where the final image comes from -------------------------------------------------

def test_happy_path_transcript_signals():
    run = transcript_replay("responses_two_partials.lf.sse")
    assert run.error is None
    # created, item added, in_progress, generating, two partials, .completed, item done
    assert kinds(run.signals) == ["accepted", "called", "started", "partial", "partial", "rendered", "final"]
    partials = run.partials()
    assert [p.index for p in partials] == [0, 1]
    assert partials[0].b64 == B64_PARTIAL_0
    assert partials[0].meta == {"size": "1024x1024", "output_format": "png", "quality": "high", "background": "opaque"}
    (final,) = run.finals()
    assert final.b64 == B64_FINAL and final.url is None and final.index == 0
    assert final.meta["size"] == "1024x1024"
    assert decode_base64(final.b64) == PNG_FINAL
    outcome = run.interpreter.outcome
    assert outcome.response_id == "resp_fx1"
    assert outcome.model == "gpt-5"
    assert outcome.revised_prompt == "A red square on a white table."
    assert outcome.usage["total_tokens"] == 4210
    assert outcome.usage["tool_usage"] == {"image_gen": {"input_tokens": 50, "output_tokens": 4160}}
    assert outcome.finals == 1 and outcome.partials == 2
    assert outcome.event_counts["response.image_generation_call.partial_image"] == 2
    assert outcome.event_counts["response.completed"] == 1
    run.interpreter.finish()


@pytest.mark.parametrize("variant", ["lf", "cr", "crlf"])
def test_line_end_variants_give_the_same_signals(variant):
    base = transcript_replay("responses_two_partials.lf.sse")
    run = transcript_replay(f"responses_two_partials.{variant}.sse")
    assert run.signals == base.signals
    assert run.interpreter.outcome == base.interpreter.outcome


def test_final_from_item_done_with_status_generating_and_no_completed_event():
    interpreter, signals = feed_all(
        {"type": "response.created", "response": {"id": "resp_g", "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": image_item(result=None, status="in_progress")},
        {"type": "response.image_generation_call.generating", "output_index": 0, "item_id": "ig_1"},
        item_done(image_item(status="generating")),
    )
    assert kinds(signals) == ["accepted", "called", "started", "final"]
    assert finals(signals)[0].b64 == B64_FINAL
    interpreter.finish()  # the stream ends here: no .completed, no response.completed


def test_item_done_without_result_is_not_final():
    interpreter, signals = feed_all(item_done(image_item(result=None, status="generating")),
                                    item_done(image_item(result="", status="completed")))
    assert finals(signals) == []
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert info.value.code == "no_image"


def test_fallback_to_response_completed_only():
    interpreter, signals = feed_all(
        {"type": "response.created", "response": {"id": "resp_c", "model": "gpt-image-relay"}},
        completed([{"id": "rs_1", "type": "reasoning", "summary": []}, image_item(revised_prompt="rp")],
                  usage={"total_tokens": 9}, tool_usage={"image_gen": {"output_tokens": 7}}),
    )
    (final,) = finals(signals)
    assert final.b64 == B64_FINAL and final.index == 1
    outcome = interpreter.outcome
    assert outcome.response_id == "resp_1" and outcome.model == "gpt-5"
    assert outcome.usage == {"total_tokens": 9, "tool_usage": {"image_gen": {"output_tokens": 7}}}
    assert outcome.revised_prompt == "rp"
    interpreter.finish()


def test_repeated_copy_in_response_completed_is_not_reported_twice():
    _, signals = feed_all(
        item_done({"id": "rs_1", "type": "reasoning"}, output_index=0),
        item_done(image_item(), output_index=1),
        completed([{"id": "rs_1", "type": "reasoning"}, image_item()]),
    )
    assert len(finals(signals)) == 1


def test_repeated_copy_is_not_reported_twice_when_completed_output_omits_other_items():
    # Relays rebuild response.completed.output (new-api uses the output_item.done items, R11); when the
    # reasoning item is left out, the image's position there (0) differs from its output_index (1).
    # It is still the same image and must be saved once.
    _, signals = feed_all(
        item_done({"id": "rs_1", "type": "reasoning"}, output_index=0),
        item_done(image_item(), output_index=1),
        completed([image_item()]),
    )
    assert len(finals(signals)) == 1


def test_two_image_calls_give_two_finals():
    interpreter, signals = feed_all(item_done(image_item(item_id="ig_a"), 0),
                                    item_done(image_item(result=B64_SECOND, item_id="ig_b"), 1),
                                    completed([image_item(item_id="ig_a"), image_item(result=B64_SECOND, item_id="ig_b")]))
    assert [(s.index, s.b64) for s in finals(signals)] == [(0, B64_FINAL), (1, B64_SECOND)]
    assert interpreter.outcome.finals == 2


def test_rotated_item_ids_are_correlated_by_output_index_only():
    _, signals = feed_all(
        {"type": "response.output_item.added", "output_index": 0, "item": image_item(result=None, item_id="id-1")},
        {"type": "response.image_generation_call.partial_image", "output_index": 0, "item_id": "id-2",
         "partial_image_index": 0, "partial_image_b64": B64_PARTIAL_0},
        item_done(image_item(item_id="id-3")),
        completed([image_item(item_id="id-4")]),
    )
    assert kinds(signals) == ["accepted", "called", "started", "partial", "final"]


def test_xai_item_with_prompt_and_no_size_fields():
    interpreter, signals = feed_all(item_done({"id": "ig_x_call-0", "type": "image_generation_call",
                                               "status": "completed", "result": B64_FINAL,
                                               "prompt": "A delicate origami paper boat"}))
    (final,) = finals(signals)
    assert final.meta == {}
    assert interpreter.outcome.revised_prompt == "A delicate origami paper boat"


def test_revised_prompt_wins_over_prompt():
    interpreter, _ = feed_all(item_done(image_item(revised_prompt="revised", prompt="original")))
    assert interpreter.outcome.revised_prompt == "revised"


@pytest.mark.parametrize("result", ["https://relay.example/img/1.png", "http://relay.example/1.png"])
def test_url_result_in_responses_item(result):
    (final,) = finals(feed_all(item_done(image_item(result=result)))[1])
    assert final.url == result and final.b64 is None


def test_data_url_result_in_responses_item():
    data_url = "data:image/png;base64," + B64_FINAL
    (final,) = finals(feed_all(item_done(image_item(result=data_url)))[1])
    assert final.url == data_url and final.b64 is None
    assert decode_base64(final.url) == PNG_FINAL


def test_event_name_used_when_payload_lacks_type():
    interpreter = Interpreter()
    signals = interpreter.feed({"output_index": 0, "item": image_item()}, "response.output_item.done")
    assert kinds(signals) == ["accepted", "started", "final"]
    assert interpreter.outcome.event_counts == {"response.output_item.done": 1}


def test_type_in_payload_wins_over_event_name():
    interpreter = Interpreter()
    interpreter.feed({"type": "response.created", "response": {"id": "r"}}, "response.output_item.done")
    assert interpreter.outcome.event_counts == {"response.created": 1}


def test_untyped_payload_without_event_name_is_counted_and_ignored():
    interpreter = Interpreter()
    assert interpreter.feed({"hello": "world"}) == []
    assert interpreter.outcome.event_counts == {"untyped": 1}


@pytest.mark.parametrize("kind", ["response.metadata", "response.web_search_call.searching", "codex.rate_limits",
                                  "response.output_text.delta", "response.reasoning_summary_text.delta",
                                  "something.new"])
def test_unknown_and_uninteresting_event_types_are_ignored(kind):
    interpreter = Interpreter()
    assert interpreter.feed({"type": kind, "metadata": {"type": "safety_buffering"}, "delta": "x"}) == []
    assert interpreter.outcome.event_counts == {kind: 1}


@pytest.mark.parametrize("payload", [None, 1, "x", [1, 2], [{"type": "error"}], True])
def test_non_object_payloads_are_ignored(payload):
    assert Interpreter(payload).feed(payload) == []


def test_accepted_and_started_are_signalled_once():
    _, signals = feed_all(
        {"type": "response.created", "response": {}}, {"type": "response.in_progress", "response": {}},
        {"type": "response.queued", "response": {}},
        {"type": "response.image_generation_call.in_progress", "output_index": 0},
        {"type": "response.image_generation_call.generating", "output_index": 0},
        {"type": "response.output_item.added", "output_index": 0, "item": image_item(result=None)},
        item_done(image_item()),
    )
    assert kinds(signals) == ["accepted", "called", "started", "final"]


def test_every_image_event_of_the_sdk_is_told_once_and_in_order():
    _, signals = feed_all(
        {"type": "response.queued", "response": {"id": "resp_q"}},
        {"type": "response.created", "response": {"id": "resp_q"}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs_1", "type": "reasoning"}},
        {"type": "response.output_item.added", "output_index": 1, "item": image_item(result=None)},
        {"type": "response.image_generation_call.in_progress", "output_index": 1, "item_id": "ig_1"},
        {"type": "response.image_generation_call.generating", "output_index": 1, "item_id": "ig_1"},
        {"type": "response.image_generation_call.partial_image", "output_index": 1, "item_id": "ig_1",
         "partial_image_index": 0, "partial_image_b64": B64_PARTIAL_0},
        {"type": "response.image_generation_call.completed", "output_index": 1, "item_id": "ig_1"},
        {"type": "response.image_generation_call.completed", "output_index": 1, "item_id": "ig_1"},
        item_done(image_item(), 1),
        {"type": "response.image_generation_call.completed", "output_index": 1, "item_id": "ig_1"},
    )
    assert kinds(signals) == ["queued", "accepted", "reasoning", "called", "started", "partial", "rendered", "final"]


def test_a_completed_image_call_alone_still_starts_and_renders():
    interpreter, signals = feed_all({"type": "response.image_generation_call.completed", "output_index": 0})
    assert kinds(signals) == ["accepted", "started", "rendered"]
    assert interpreter.outcome.event_counts == {"response.image_generation_call.completed": 1}


def test_output_item_added_for_other_items_does_not_start():
    _, signals = feed_all({"type": "response.output_item.added", "output_index": 0,
                           "item": {"type": "message", "content": []}})
    assert signals == []


@pytest.mark.parametrize("payload", [
    {"type": "response.created", "response": "x"},
    {"type": "response.output_item.added", "item": "s"},
    {"type": "response.output_item.done", "item": [1]},
    {"type": "response.output_item.done", "item": {"type": "message", "content": 3}},
    {"type": "response.completed", "response": [1]},
    {"type": "response.completed", "response": {"output": 5}},
    {"type": "response.completed", "response": {"usage": "ab"}},
    {"object": "response", "status": "completed", "output": 5},
    {"type": "response.failed", "response": [1]},
    {"type": "response.incomplete", "response": {"incomplete_details": "x"}},
])
def test_malformed_shapes_never_crash(payload):
    # A relay that sends a string or a list where an object belongs must give a clean BridgeError
    # (exit code and message) or be ignored, never an AttributeError/TypeError traceback.
    try:
        Interpreter(payload).feed(payload)
    except BridgeError:
        pass


@pytest.mark.parametrize("payload", [
    {"data": [{"b64_json": 5}]},
    {"data": [{"url": ["https://r.example/x.png"]}]},
    {"type": "image_generation.completed", "b64_json": {"data": "iVBOR"}},
    item_done(image_item(result=True)),
    {"type": "response.image_generation_call.partial_image", "partial_image_b64": 12345},
])
def test_non_string_image_fields_are_never_passed_on(payload):
    # The receiver calls decode_base64(signal.b64) / signal.url.startswith(...): anything but a string
    # there is a crash later. Such a field is absent (or a clean BridgeError), not a Signal.
    try:
        signals = Interpreter(payload).feed(payload)
    except BridgeError:
        return
    for s in signals:
        assert s.b64 is None or isinstance(s.b64, str)
        assert s.url is None or isinstance(s.url, str)


# -- partial indexes -----------------------------------------------------------------------------

def partial(**fields) -> dict:
    return {"type": "response.image_generation_call.partial_image", "output_index": 0, **fields}


def test_partial_indexes_from_partial_image_index():
    _, signals = feed_all(partial(partial_image_index=2, partial_image_b64=B64_PARTIAL_0),
                          partial(partial_image_index=0, partial_image_b64=B64_PARTIAL_0))
    assert [s.index for s in signals if s.kind == "partial"] == [2, 0]


def test_partial_indexes_counted_when_missing_or_invalid():
    _, signals = feed_all(partial(partial_image_b64=B64_PARTIAL_0),
                          partial(partial_image_b64=B64_PARTIAL_0, partial_image_index=None),
                          partial(partial_image_b64=B64_PARTIAL_0, partial_image_index="x"))
    assert [s.index for s in signals if s.kind == "partial"] == [0, 1, 2]


def test_partial_without_image_is_ignored():
    interpreter, signals = feed_all(partial(partial_image_index=0, partial_image_b64=""))
    assert signals == [] and interpreter.outcome.partials == 0


def test_vendor_partial_succeeded_is_one_finished_image_of_the_set():
    # Seedream streams each image of a set as it is done: a final image, not a preview.
    _, signals = feed_all({"type": "image_generation.partial_succeeded", "url": "https://cdn.example/p.png",
                           "image_index": 1})
    (p,) = [s for s in signals if s.kind == "final"]
    assert p.url == "https://cdn.example/p.png" and p.index == 1 and p.b64 is None


# -- Images API, streamed ------------------------------------------------------------------------

def test_images_stream_transcript_n2_gives_two_finals():
    run = transcript_replay("images_stream_n2.sse")
    assert run.error is None
    assert kinds(run.signals) == ["accepted", "started", "partial", "final", "final"]
    assert [(s.index, s.b64) for s in run.finals()] == [(0, B64_FINAL), (1, B64_SECOND)]
    assert run.partials()[0].index == 0
    assert run.interpreter.outcome.usage["output_tokens"] == 4160
    run.interpreter.finish()


def test_image_edit_completed_with_url_only():
    _, signals = feed_all({"type": "image_edit.completed", "url": "https://relay.example/e.png", "b64_json": ""})
    (final,) = finals(signals)
    assert final.url == "https://relay.example/e.png" and final.b64 is None


def test_completed_event_carrying_a_data_envelope():
    interpreter, signals = feed_all({"type": "image_generation.completed", "created": 1,
                                     "data": [{"url": "https://relay.example/a.png", "revised_prompt": "rp"}]})
    assert [s.url for s in finals(signals)] == ["https://relay.example/a.png"]
    assert interpreter.outcome.revised_prompt == "rp"


def test_synthetic_completed_event_without_image_fields_is_not_final():
    interpreter, signals = feed_all({"type": "image_generation.completed", "created_at": 1, "usage": {"total_tokens": 3}})
    assert finals(signals) == []
    assert interpreter.outcome.usage == {"total_tokens": 3}


def test_images_completed_by_event_name_only():
    interpreter = ImagesReader()
    signals = interpreter.feed({"b64_json": B64_FINAL}, "image_generation.completed")
    assert [s.b64 for s in finals(signals)] == [B64_FINAL]


# -- Images API, whole bodies --------------------------------------------------------------------

def test_images_body_with_b64_json():
    interpreter, signals = feed_all({"created": 1, "output_format": "png", "size": "1024x1024",
                                     "data": [{"b64_json": B64_FINAL}], "usage": {"total_tokens": 5}})
    (final,) = finals(signals)
    assert final.b64 == B64_FINAL and final.url is None
    assert final.meta == {"output_format": "png", "size": "1024x1024"}
    assert interpreter.outcome.usage == {"total_tokens": 5}
    interpreter.finish()


def test_images_body_with_url_and_revised_prompt():
    interpreter, signals = feed_all({"created": 1, "data": [{"url": "https://blob.example/x.png?sig=1",
                                                             "revised_prompt": "A stop sign"}]})
    (final,) = finals(signals)
    assert final.url == "https://blob.example/x.png?sig=1" and final.b64 is None
    assert interpreter.outcome.revised_prompt == "A stop sign"


def test_images_body_with_both_url_and_b64_keeps_both():
    (final,) = finals(feed_all({"data": [{"url": "https://r.example/x.png", "b64_json": B64_FINAL}]})[1])
    assert final.b64 == B64_FINAL and final.url == "https://r.example/x.png"


@pytest.mark.parametrize("entry, b64, url", [
    ({"b64_json": "", "url": "https://r.example/x.png"}, None, "https://r.example/x.png"),
    ({"b64_json": B64_FINAL, "url": ""}, B64_FINAL, None),
    ({"b64_json": None, "url": "https://r.example/x.png", "revised_prompt": ""}, None, "https://r.example/x.png"),
])
def test_images_body_empty_strings_are_absent(entry, b64, url):
    interpreter, signals = feed_all({"data": [entry]})
    (final,) = finals(signals)
    assert (final.b64, final.url) == (b64, url)
    assert interpreter.outcome.revised_prompt is None


def test_images_body_with_only_empty_strings_has_no_image():
    interpreter, signals = feed_all({"created": 1, "data": [{"b64_json": "", "url": "", "revised_prompt": ""}]})
    assert finals(signals) == []
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert info.value.code == "no_image"


def test_images_body_n2():
    (a, b) = finals(feed_all({"data": [{"b64_json": B64_FINAL}, "junk", {"b64_json": B64_SECOND}]})[1])
    assert (a.index, a.b64, b.index, b.b64) == (0, B64_FINAL, 1, B64_SECOND)


def test_images_body_data_urls():
    data_url = "data:image/png;base64," + B64_FINAL
    (a, b) = finals(feed_all({"data": [{"b64_json": data_url}, {"url": data_url}]})[1])
    assert decode_base64(a.b64) == PNG_FINAL
    assert a.url is None and b.url == data_url
    assert read_info(decode_base64(b.url)).size == "2x2"


def test_images_body_xai_mime_type_in_meta():
    (final,) = finals(feed_all({"data": [{"url": "https://imgen.x.ai/a.jpeg", "mime_type": "image/jpeg"}],
                                "usage": {"cost_in_usd_ticks": 200000000}})[1])
    assert final.meta == {"mime_type": "image/jpeg"}


def test_whole_responses_body():
    interpreter, signals = feed_all({"id": "resp_w", "object": "response", "status": "completed", "model": "gpt-5",
                                     "output": [{"type": "reasoning"}, image_item(revised_prompt="rp"),
                                                {"type": "message", "content": [{"type": "output_text", "text": ""}]}],
                                     "usage": {"total_tokens": 1}})
    (final,) = finals(signals)
    assert final.index == 1
    assert interpreter.outcome.response_id == "resp_w"
    interpreter.finish()


# -- errors in the stream or in a 200 body -------------------------------------------------------

def test_flat_error_event():
    run = transcript_replay("error_event_flat.sse")
    assert isinstance(run.error, RelayFailure)
    assert run.error.code == "relay_error"
    assert run.error.upstream_code == "server_error"
    assert "The server had an error while processing your request" in run.error.message
    assert run.error.exit_code == ExitCode.RELAY_FAILURE == 5


def test_nested_error_event():
    run = transcript_replay("error_event_nested.sse")
    assert isinstance(run.error, RelayRejected)
    assert run.error.code == "quota_exceeded"
    assert run.error.upstream_code == "credit_balance_exhausted"
    assert "You have no credits remaining" in run.error.message
    assert run.error.exit_code == ExitCode.REJECTED == 4


def test_bare_json_error_body_served_as_sse():
    run = transcript_replay("bare_json_error_body.sse")
    assert isinstance(run.error, RelayFailure)
    assert "Upstream service temporarily unavailable" in run.error.message
    assert run.error.upstream_code == "upstream_error"


@pytest.mark.parametrize("payload, name", [
    ({"type": "error", "code": "moderation_blocked", "message": "Your request was rejected by the safety system."}, "message"),
    ({"type": "error", "error": {"code": "moderation_blocked", "message": "Rejected by the safety system."}}, "error"),
    ({"error": {"code": "moderation_blocked", "message": "Rejected."}}, "message"),
    ({"message": "Rejected by the safety system.", "code": "moderation_blocked"}, "error"),
])
def test_moderation_error_shapes(payload, name):
    with pytest.raises(RelayRejected) as info:
        Interpreter(payload, names=[name]).feed(payload, name)
    assert info.value.code == "moderation_blocked"


def test_upstream_error_type_without_event_line():
    with pytest.raises(BridgeError) as info:
        Interpreter().feed({"type": "upstream_error", "code": "stream_read_error", "message": "stream read error",
                            "sequence_number": 0})
    assert "stream read error" in info.value.message


def test_error_inside_a_200_body():
    body = {"error": {"message": "upstream 400: Invalid value for 'size'.", "type": "upstream_error",
                      "code": "image_stream_failed"}}
    with pytest.raises(BridgeError) as info:
        Interpreter(body).feed(body)
    assert "upstream 400: Invalid value for 'size'" in info.value.message
    assert info.value.upstream_code == "image_stream_failed"


def test_error_message_containing_json():
    inner = {"error": {"message": "Invalid size '17x17'.", "type": "invalid_request_error", "param": "size",
                       "code": "invalid_value"}}
    with pytest.raises(RelayRejected) as info:
        Interpreter().feed({"error": {"message": json.dumps(inner), "type": "upstream_error"}})
    err = info.value
    assert err.code == "rejected"
    assert "Invalid size '17x17'." in err.message
    assert "{" not in err.message
    assert err.param == "size"
    assert err.upstream_code == "invalid_value"


def test_error_message_containing_json_with_moderation_code():
    inner = json.dumps({"error": {"message": "Blocked.", "code": "moderation_blocked"}})
    with pytest.raises(RelayRejected) as info:
        Interpreter().feed({"type": "error", "error": {"message": inner}})
    assert info.value.code == "moderation_blocked"


@pytest.mark.parametrize("code, cls, error_code", [
    (400, RelayRejected, "rejected"),
    (429, RelayRejected, "rate_limited"),
    (500, RelayFailure, "relay_error"),
    (503, RelayFailure, "relay_error"),
])
def test_numeric_error_code(code, cls, error_code):
    chunk = {"id": "gen-1", "object": "chat.completion.chunk", "error": {"code": code, "message": "Token limit reached"},
             "choices": [{"index": 0, "delta": {"content": ""}}]}
    with pytest.raises(cls) as info:
        Interpreter(chunk).feed(chunk)
    assert info.value.code == error_code
    assert info.value.status_code == code
    assert "Token limit reached" in info.value.message


def test_request_id_suffix_is_removed_from_error_messages():
    with pytest.raises(BridgeError) as info:
        Interpreter().feed({"error": {"message": "当前分组上游负载已饱和，请稍后再试 (request id: 20260101abc)",
                                      "type": "new_api_error", "code": None}})
    assert "request id" not in info.value.message
    assert "当前分组上游负载已饱和" in info.value.message


def test_null_or_empty_error_key_is_not_an_error():
    _, signals = feed_all({"error": None, "data": [{"b64_json": B64_FINAL}]})
    assert len(finals(signals)) == 1


def test_response_failed_server_error():
    with pytest.raises(RelayFailure) as info:
        Interpreter().feed({"type": "response.failed", "response": {"status": "failed", "error": {
            "code": "server_error", "message": "An error occurred while processing your request."}}})
    assert info.value.code == "relay_error"
    assert "An error occurred" in info.value.message


def test_response_failed_without_error_object():
    with pytest.raises(RelayFailure):
        Interpreter().feed({"type": "response.failed", "response": {"status": "failed"}})


def test_response_failed_image_content_policy_violation():
    with pytest.raises(RelayRejected) as info:
        Interpreter().feed({"type": "response.failed", "response": {"status": "failed", "error": {
            "code": "image_content_policy_violation", "message": "The image violates the content policy."}}})
    assert info.value.code == "moderation_blocked"
    assert info.value.exit_code == 4


def test_response_failed_invalid_image_is_rejected():
    with pytest.raises(RelayRejected) as info:
        Interpreter().feed({"type": "response.failed", "response": {"error": {
            "code": "invalid_image", "message": "The input image is not valid."}}})
    assert info.value.code == "rejected"


@pytest.mark.parametrize("details, cls, code, words", [
    ({"reason": "max_output_tokens"}, RelayFailure, "incomplete", "max_output_tokens"),
    ({"reason": "content_filter"}, RelayRejected, "moderation_blocked", "content filter"),
    (None, RelayFailure, "incomplete", "unknown"),
])
def test_response_incomplete(details, cls, code, words):
    with pytest.raises(cls) as info:
        Interpreter().feed({"type": "response.incomplete", "response": {"status": "incomplete",
                                                                         "incomplete_details": details}})
    assert info.value.code == code
    assert words in info.value.message


MODERATION_ITEM_ERROR = {"code": "moderation_blocked", "message": "Your request was rejected by the safety system."}


def test_failed_image_item_with_moderation_blocked():
    failed = image_item(result=None, status="failed", error=MODERATION_ITEM_ERROR)
    interpreter, signals = feed_all(item_done(failed), completed([failed]))
    assert finals(signals) == []
    with pytest.raises(RelayRejected) as info:
        interpreter.finish()
    assert info.value.code == "moderation_blocked"
    assert "safety system" in info.value.message


def test_specific_item_error_is_not_replaced_by_a_later_generic_one():
    # response.completed repeats the failed item; a relay that rebuilds the output may drop its error
    # object. The moderation reason seen first must still be what is reported (exit 4, not 5).
    interpreter, _ = feed_all(item_done(image_item(result=None, status="failed", error=MODERATION_ITEM_ERROR)),
                              completed([image_item(result=None, status="failed")]))
    with pytest.raises(RelayRejected) as info:
        interpreter.finish()
    assert info.value.code == "moderation_blocked"


def test_failed_image_item_without_error_details():
    interpreter, _ = feed_all(item_done(image_item(result=None, status="failed")))
    with pytest.raises(RelayFailure):
        interpreter.finish()


def test_failed_item_does_not_hide_a_later_image():
    interpreter, signals = feed_all(item_done(image_item(result=None, status="failed", error={"code": "server_error"})),
                                    item_done(image_item(), 1))
    assert len(finals(signals)) == 1
    interpreter.finish()


# -- text instead of an image, and nothing at all ------------------------------------------------

def test_text_only_answer_is_reported_with_the_text():
    interpreter, signals = feed_all(
        {"type": "response.created", "response": {"id": "r"}},
        {"type": "response.output_text.done", "output_index": 0, "text": "I can't draw that, but here is a poem."},
        item_done({"type": "message", "content": [{"type": "output_text",
                                                   "text": "I can't draw that, but here is a poem."}]}),
        completed([{"type": "message", "content": [{"type": "output_text",
                                                    "text": "I can't draw that, but here is a poem."}]}]),
    )
    assert kinds(signals) == ["accepted"]
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert info.value.code == "text_only"
    assert '"I can\'t draw that, but here is a poem."' in info.value.message
    assert info.value.message.count("poem") == 1  # the same text from three events is quoted once
    assert info.value.exit_code == ExitCode.PROTOCOL == 7


def test_text_only_from_response_completed_alone():
    interpreter, _ = feed_all(completed([{"type": "message", "content": [{"type": "output_text", "text": "4"}]}]))
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert info.value.code == "text_only" and '"4"' in info.value.message


def test_refusal_is_text_only():
    interpreter, _ = feed_all({"type": "response.refusal.done", "refusal": "I can't help with that."})
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert info.value.code == "text_only" and "I can't help with that." in info.value.message


def test_long_text_is_shortened():
    interpreter, _ = feed_all({"type": "response.output_text.done", "text": "word " * 200})
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert "…" in info.value.message
    assert len(info.value.message) < 460  # 300 characters of the text, and how to ask again


def test_text_with_an_image_is_fine():
    interpreter, _ = feed_all({"type": "response.output_text.done", "text": "Here it is."}, item_done(image_item()))
    interpreter.finish()
    assert interpreter.outcome.text == ["Here it is."]


@pytest.mark.parametrize("payloads", [
    [],
    [{"type": "response.created", "response": {}}, {"type": "response.in_progress", "response": {}}],
    [{"type": "response.output_text.done", "text": "  "}],
    [completed([])],
])
def test_no_image_and_no_text(payloads):
    interpreter, _ = feed_all(*payloads)
    with pytest.raises(ProtocolError) as info:
        interpreter.finish()
    assert info.value.code == "no_image"


def test_data_only_transcript_without_image_is_no_image():
    run = transcript_replay("data_only_done.sse")
    assert kinds(run.signals) == ["accepted", "called"]
    with pytest.raises(ProtocolError) as info:
        run.interpreter.finish()
    assert info.value.code == "no_image"


def test_keepalive_transcript_only_accepts():
    run = transcript_replay("keepalive_comments.sse")
    assert run.error is None and kinds(run.signals) == ["accepted"]


def test_replay_skips_non_json_events():
    run = replay([("message", "PING"), ("ping", ""), ("response.output_item.done", json.dumps(item_done(image_item())))])
    assert len(run.finals()) == 1


def test_exit_codes_of_the_error_classes():
    assert RelayRejected("x").exit_code == 4
    assert RelayFailure("x").exit_code == 5
    assert ProtocolError("x").exit_code == 7


def test_whole_incomplete_response_body_gives_its_reason():
    interpreter = Interpreter()
    with pytest.raises(RelayRejected) as info:
        interpreter.feed({"object": "response", "status": "incomplete", "output": [],
                          "incomplete_details": {"reason": "content_filter"}})
    assert info.value.code == "moderation_blocked"

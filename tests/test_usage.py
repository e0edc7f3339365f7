"""Usage and cost the relay reported, normalized in every result: each style's raw form (real
recordings where there are some), the CLI JSON, the job record and the tool text's last line."""
from __future__ import annotations

import json

import pytest

from bridge.relay.usage import combine, normalize, text
from tests.clirun import run_cli
from tests.conftest import tagged
from tests.helpers_fixtures import vcr_strings
from tests.test_real_fixtures import real_text


@pytest.mark.parametrize("raw, normalized", [
    # Responses: the text model's usage and the image tool's tool_usage, added up
    ({"input_tokens": 50, "output_tokens": 10, "total_tokens": 60,
      "tool_usage": {"image_gen": {"input_tokens": 20, "output_tokens": 4160}}},
     {"input_tokens": 70, "output_tokens": 4170, "image_tokens": 4160}),
    # Images API (gpt-image): every output token is an image token, unless the details say otherwise
    ({"input_tokens": 12, "input_tokens_details": {"text_tokens": 12, "image_tokens": 0}, "output_tokens": 4160,
      "total_tokens": 4172}, {"input_tokens": 12, "output_tokens": 4160, "image_tokens": 4160}),
    ({"input_tokens": 12, "output_tokens": 300, "output_tokens_details": {"image_tokens": 272, "text_tokens": 28}},
     {"input_tokens": 12, "output_tokens": 300, "image_tokens": 272}),
    # Seedream: output tokens only
    ({"generated_images": 1, "output_tokens": 16280, "total_tokens": 16280},
     {"output_tokens": 16280, "image_tokens": 16280}),
    # Chat with image tokens split out (a reverse model), and OpenRouter's cost
    ({"prompt_tokens": 868, "completion_tokens": 4111, "completion_tokens_details": {"image_tokens": 4000}},
     {"input_tokens": 868, "output_tokens": 4111, "image_tokens": 4000}),
    ({"prompt_tokens": 0, "completion_tokens": 4175, "total_tokens": 4175, "cost": 0.04},
     {"input_tokens": 0, "output_tokens": 4175, "cost": 0.04}),
    # Gemini's usageMetadata: thoughts count as output, the image by modality
    ({"promptTokenCount": 3, "candidatesTokenCount": 2071, "thoughtsTokenCount": 122, "totalTokenCount": 2196,
      "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}, {"modality": "TEXT", "tokenCount": 781}]},
     {"input_tokens": 3, "output_tokens": 2193, "image_tokens": 1290}),
    # xAI: the cost in ticks of 1e-10 dollars
    ({"cost_in_usd_ticks": 200000000}, {"cost": 0.02}),
    # nothing usable
    ({"total_tokens": "lots", "cost": True}, None),
    ("nonsense", None),
])
def test_each_styles_usage_normalizes(raw, normalized):
    assert normalize(raw) == normalized


def test_a_real_xai_answers_usage_is_its_cost():
    from tests.helpers_fixtures import replay
    _, response, _, _ = vcr_strings(real_text("ruby_llm__xai-images-generations-url.cassette.yml"))
    run = replay([("message", response.decode())])
    assert normalize(run.interpreter.outcome.usage) == {"cost": 0.02}


def test_usage_of_several_calls_adds_up_and_reads_as_one_line():
    total = combine([{"input_tokens": 5, "output_tokens": 7, "image_tokens": 7, "cost": 0.01},
                     None, {"output_tokens": 3, "cost": 0.02}])
    assert total == {"input_tokens": 5, "output_tokens": 10, "image_tokens": 7, "cost": 0.03}
    assert text(total) == ("Usage reported by the relay: 5 input tokens, 10 output tokens, 7 image tokens, "
                           "cost 0.03.")
    assert text(None) is None


@pytest.mark.parametrize("mode", ["responses", "images"])
def test_the_cli_result_carries_usage_and_the_raw_form_stays_in_the_debug_summary(relay_env, emulator, monkeypatch,
                                                                                  mode):
    tagged(monkeypatch, emulator)
    run = run_cli("--api-mode", mode, "a counted heron")
    assert run.code == 0, run.stdout
    usage = run.json["usage"]
    assert set(usage) == {"input_tokens", "output_tokens", "image_tokens"} and usage["image_tokens"] > 0
    raw = run.json["debug_summary"]["usage"]
    assert ("tool_usage" in raw) if mode == "responses" else ("output_tokens_details" in raw)


def test_several_responses_calls_add_their_usage(relay_env, emulator, monkeypatch):
    tagged(monkeypatch, emulator)
    one = run_cli("--api-mode", "responses", "one heron").json["usage"]
    two = run_cli("--api-mode", "responses", "--n", "2", "one heron").json["usage"]
    assert two["image_tokens"] == 2 * one["image_tokens"]


@pytest.mark.anyio
async def test_the_tool_text_and_the_job_record_carry_usage(relay_env, emulator, monkeypatch, fresh_jobs, mcp_env):
    """The usage line is the last of the result's own lines; only the library's line for clients that
    show no image comes after it."""
    from mcp import Client
    from bridge.paths import user_state_dir
    from bridge.server.app import server
    monkeypatch.setenv("IMAGE_RELAY_API_MODE", "images")
    tagged(monkeypatch, emulator)
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": "a heron with a bill"})
    assert result.is_error is False
    *_, spent, library = result.content[0].text.splitlines()
    assert spent.startswith("Usage reported by the relay: ") and "image tokens" in spent
    assert library.startswith("Not shown in this client")
    (record,) = [json.loads(p.read_text()) for p in (user_state_dir() / "jobs").glob("job_*.json")]
    assert record["usage"]["image_tokens"] > 0


@pytest.fixture
def anyio_backend():
    return "asyncio"

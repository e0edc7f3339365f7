"""The image card through the official client: who sees it, what its data says, what its tools do."""
from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client import advertise

from bridge.server.app import server
from bridge.server.card import APP_TOOLS, CARD_KEY, CARD_URI

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fresh_jobs")]
APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})



def apps_client():
    return Client(server, extensions=[APPS], read_timeout_seconds=60)


def card_of(result) -> dict:
    return result.meta[CARD_KEY]


def plain(result) -> dict:
    """A result as a client receives it, without the card's entry."""
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    dumped.get("_meta", {}).pop(CARD_KEY, None)
    return dumped


async def test_a_client_without_the_extension_sees_one_tool_and_no_card(mcp_env):
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        result = await client.call_tool("generate_image", {"prompt": "no card here"})
        for name in APP_TOOLS:
            refused = await client.call_tool(name, {"job_id": "job_000000000000"})
            assert refused.is_error and refused.content[0].text == f"Unknown tool: {name}"
    assert [t.name for t in tools] == ["generate_image"] and "ui" not in (tools[0].meta or {})
    assert resources == [] and templates == []
    assert CARD_KEY not in (result.meta or {}) and result.structured_content is None
    assert [b.type for b in result.content] == ["text", "image"]


async def test_the_same_job_reads_the_same_with_and_without_the_extension(mcp_env):
    async with apps_client() as client:
        first = await client.call_tool("generate_image", {"prompt": "one result for both"})
        job = card_of(first)["job"]
        with_card = await client.call_tool("generate_image", {"prompt": "x", "job_id": job})
    async with Client(server) as client:
        without = await client.call_tool("generate_image", {"prompt": "x", "job_id": job})
    assert CARD_KEY in with_card.meta and CARD_KEY not in (without.meta or {})
    assert plain(with_card) == plain(without)  # byte for byte once the card's entry is set aside
    assert without.content[0].text.startswith("![one result for both](")


async def test_a_client_with_the_extension_gets_the_bound_tool_hidden_tools_and_the_card(mcp_env):
    async with apps_client() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        resources = (await client.list_resources()).resources
        read = await client.read_resource(CARD_URI)
    assert tools["generate_image"].meta["ui"] == {"resourceUri": CARD_URI}
    for name in APP_TOOLS:
        assert tools[name].meta["ui"]["visibility"] == ["app"]
    assert [str(r.uri) for r in resources] == [CARD_URI]
    content = read.contents[0]
    assert content.mime_type == "text/html;profile=mcp-app"
    assert content.meta["ui"] == {"csp": {"resourceDomains": ["data:"]}, "prefersBorder": True}
    html = content.text
    assert html.startswith("<!doctype html>") and "<script src" not in html and "<link" not in html
    assert len(html.encode()) < 40_000  # one small self-contained document
    for action in ("regenerate", "variation", "edit", "download", "use", "open-folder"):
        assert f'data-action="{action}"' in html


async def test_a_finished_result_describes_its_images_and_serves_the_full_file(mcp_env):
    from PIL import Image
    async with apps_client() as client:
        result = await client.call_tool("generate_image", {"prompt": "a card owl", "size": "256x192"})
        card = card_of(result)
        image = card["images"][0]
        full = await client.read_resource(image["uri"])
        missing = await client.call_tool("card_status", {"job_id": "job_ffffffffffff"})
    assert card["status"] == "done" and card["prompt"] == "a card owl" and card["size"] == "256x192"
    assert card["format"] == "png" and card["error"] is None and card["elapsed"] >= 0
    assert result.content[image["preview"]].type == "image"
    assert Path(image["path"]).is_file() and image["bytes"] == Path(image["path"]).stat().st_size
    assert base64.b64decode(full.contents[0].blob) == Path(image["path"]).read_bytes()
    assert full.contents[0].mime_type == "image/png"  # the image's own type, never text/plain
    assert Image.open(io.BytesIO(base64.b64decode(full.contents[0].blob))).size == (256, 192)
    assert card["folder"] == Path(image["path"]).parent.as_uri()
    assert missing.is_error and "no image job" in missing.content[0].text


async def test_a_pending_job_reports_partials_then_its_final_image(mcp_env, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.4, tag=tag))
    monkeypatch.setenv("IMAGE_RELAY_MCP_WAIT_SECONDS", "0.3")
    async with apps_client() as client:
        first = await client.call_tool("generate_image", {"prompt": "a slow card", "partial_images": 2,
                                                          "size": "256x256"})
        card = card_of(first)
        assert card["status"] == "pending" and "job_id=" in first.content[0].text
        seen, partials, statuses = 0, [], []
        with anyio.fail_after(30):
            while True:
                status = card_of(await client.call_tool("card_status", {"job_id": card["job"], "seen": seen}))
                statuses.append(status)
                partials += status["partials"]
                if status["status"] != "pending":
                    break
                seen = status["partials_total"]
    assert status["status"] == "done" and status["images"][0]["src"].startswith("data:image/")
    assert [p["index"] for p in partials] == [0, 1]  # each partial arrives once
    assert all(p["src"].startswith("data:image/") for p in partials)
    assert any(s["status"] == "pending" and s["progress"]["message"] for s in statuses)
    assert len([r for r in emulator.requests if r.options.get("tag") == tag]) == 1


async def test_a_failure_shows_its_message_and_kept_partial(mcp_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="cut-after-partial", tag=uuid.uuid4().hex[:8]))
    async with apps_client() as client:
        result = await client.call_tool("generate_image", {"prompt": "cut short", "partial_images": 1,
                                                           "size": "256x256"})
    card = card_of(result)
    assert result.is_error and card["status"] == "failed" and card["error"]["code"] == "stream_broken"
    assert card["partials"] and card["partials"][-1]["src"].startswith("data:image/")


async def test_card_actions_start_new_jobs(mcp_env, emulator, monkeypatch):
    from PIL import Image
    from bridge.server import card
    # Each job starts a worker process; on a busy machine that alone may pass the card's 1 s wait.
    monkeypatch.setattr(card, "CARD_WAIT_SECONDS", 15.0)
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(tag=tag))
    arguments = {"prompt": "a regenerated fox", "size": "256x256"}
    async with apps_client() as client:
        first = card_of(await client.call_tool("generate_image", arguments))
        again = card_of(await client.call_tool("card_generate", {"action": "regenerate", "arguments": arguments}))
        more = card_of(await client.call_tool("card_generate", {"action": "variation", "arguments": arguments,
                                                                "n": 2}))
        mask = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
        mask.paste((0, 0, 0, 0), (64, 64, 192, 192))
        buffer = io.BytesIO()
        mask.save(buffer, "PNG")
        edit = await client.call_tool("card_generate", {
            "action": "edit", "arguments": arguments, "job_id": first["job"], "index": 0, "prompt": "add a hat",
            "mask_png": base64.b64encode(buffer.getvalue()).decode()})
        bad = await client.call_tool("card_generate", {"action": "edit", "arguments": arguments,
                                                       "job_id": first["job"], "prompt": "x", "mask_png": "bm90IGEgcG5n"})
        empty = await client.call_tool("card_generate", {"action": "edit", "arguments": arguments,
                                                         "job_id": first["job"], "prompt": " "})
    assert again["status"] == "done" and again["job"] != first["job"] and again["images"][0]["path"] != \
        first["images"][0]["path"]
    assert again["arguments"] == arguments
    assert more["status"] == "done" and len(more["images"]) == 2 and more["arguments"]["n"] == 2
    card = card_of(edit)
    assert card["status"] == "done" and card["edit"] and card["sources"][0]["src"].startswith("data:image/")
    assert card["arguments"]["image_paths"] == [first["images"][0]["path"]]
    assert Path(card["arguments"]["mask_path"]).read_bytes() == buffer.getvalue()
    sent = [r for r in emulator.requests if r.options.get("tag") == tag]
    assert len(sent) == 5  # first, regenerate, two variations, the edit
    assert bad.is_error and "mask" in bad.content[0].text
    assert empty.is_error and "edit box" in empty.content[0].text


async def test_the_cards_calls_leave_earlier_notices_to_the_model(mcp_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.3, tag=uuid.uuid4().hex[:8]))
    async with apps_client() as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "generate_image", {"prompt": "an abandoned card lark",
                                                                  "partial_images": 2})
            await anyio.sleep(0.5)
            group.cancel_scope.cancel()
        with anyio.fail_after(15):
            while not [p for p in (mcp_env / "outputs").glob("*lark*.png") if "-partial-" not in p.name]:
                await anyio.sleep(0.1)
        from_card = await client.call_tool("card_generate", {"action": "regenerate",
                                                             "arguments": {"prompt": "from the card"}})
        from_model = await client.call_tool("generate_image", {"prompt": "from the model"})
    assert "abandoned card lark" not in from_card.content[0].text
    assert "abandoned card lark" in from_model.content[0].text


async def test_a_card_edit_followed_to_its_end_keeps_its_source_and_arguments(mcp_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.5, tag=uuid.uuid4().hex[:8]))
    async with apps_client() as client:
        monkeypatch.setenv("IMAGE_RELAY_MCP_WAIT_SECONDS", "30")
        first = card_of(await client.call_tool("generate_image", {"prompt": "a source owl", "size": "256x256"}))
        edit = card_of(await client.call_tool("card_generate", {"action": "edit", "arguments": {"prompt": "x"},
                                                                "job_id": first["job"], "prompt": "a hat"}))
        assert edit["status"] == "pending"  # the card's own calls come back within a second
        with anyio.fail_after(30):
            while (status := card_of(await client.call_tool("card_status", {"job_id": edit["job"],
                                                                           "deliver": True})))["status"] == "pending":
                pass
    assert status["status"] == "done" and status["edit"] and status["sources"][0]["src"].startswith("data:")
    assert status["arguments"]["image_paths"] == [first["images"][0]["path"]]


async def test_with_previews_off_the_card_still_gets_pictures(mcp_env, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_MCP_PREVIEW_SIZE", "0")
    async with apps_client() as client:
        result = await client.call_tool("generate_image", {"prompt": "no previews", "size": "256x256"})
    assert [b.type for b in result.content] == ["text"]  # what the model gets is unchanged
    assert card_of(result)["images"][0]["src"].startswith("data:image/")


async def test_a_full_image_carries_its_own_type_and_a_missing_one_is_not_found(mcp_env, caplog):
    from mcp.shared.exceptions import MCPError
    async with apps_client() as client:
        result = await client.call_tool("generate_image", {"prompt": "a typed card", "size": "64x48"})
        uri = card_of(result)["images"][0]["uri"]
        full = await client.read_resource(uri)
        gone = uri.replace("/image/0", "/image/7")
        with pytest.raises(MCPError) as missing:
            await client.read_resource(gone)
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("image-relay://jobs/job_ffffffffffff/image/0")
    from bridge.images.sniff import read_info
    assert full.contents[0].mime_type == read_info(base64.b64decode(full.contents[0].blob)).mime_type
    for error in (missing.value, unknown.value):
        assert error.error.code == -32602 and "no longer on this machine" in error.error.message
    assert "Traceback" not in caplog.text

"""edit_of: follow-up edits of an image this server made, by reference through the Responses API."""
from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from mcp import Client

from bridge.server.sources import own_image
from bridge.errors import InputError
from tests.images import png

pytestmark = pytest.mark.anyio
SAVED = re.compile(r"^Saved (.+) \((\d+x\d+), (\w+), (\d+) bytes\)\.$", re.M)



@pytest.fixture
def app(relay_env, monkeypatch, tmp_path):
    import bridge.server.app as app
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    monkeypatch.setattr(app, "_JOBS", [])
    return app


def sent(emulator, marker: str) -> list:
    return [r for r in emulator.requests if marker.encode() in r.body]


async def first_image(client, prompt: str, **arguments) -> str:
    result = await client.call_tool("generate_image", {"prompt": prompt, **arguments})
    assert not result.is_error, result.content[0].text
    return SAVED.search(result.content[0].text).group(1)


def record_of(app, path: str) -> dict:
    jobs = app._jobs()
    for file in Path(jobs.dir).glob("job_*.json"):
        record = json.loads(file.read_text("utf-8"))
        if path in record.get("image_paths", []):
            return record
    raise AssertionError(f"no job record names {path}")


async def test_a_follow_up_through_the_responses_api_refers_to_the_image_and_uploads_nothing(app, emulator):
    marker = uuid.uuid4().hex
    async with Client(app.server) as client:
        path = await first_image(client, f"a harbour by day {marker}")
        record = record_of(app, path)
        response_id = record["response_ids"][path]
        assert response_id.startswith("resp_") and response_id in emulator._answers  # the relay's own id
        result = await client.call_tool("generate_image", {"prompt": f"now make it night {marker}", "edit_of": path})
        assert not result.is_error, result.content[0].text
        again = await client.call_tool("generate_image", {"prompt": f"add rain {marker}", "edit_of": record["id"]})
        assert not again.is_error, again.content[0].text
    first, by_path, by_id = sent(emulator, marker)
    for follow_up in (by_path, by_id):
        body = follow_up.json
        assert body["previous_response_id"] == response_id
        assert isinstance(body["input"], str) and "input_image" not in follow_up.body.decode()
        assert body["tools"][0]["action"] == "edit"
        assert len(follow_up.body) < 2000  # the image (a PNG of several KB) was not sent again
    assert first.json["tools"][0]["action"] == "generate" and "previous_response_id" not in first.json
    edited = SAVED.search(result.content[0].text)
    assert edited.group(1) != path and edited.group(2) == "64x48"  # the emulator edits the earlier image


async def test_a_relay_that_cannot_continue_gets_the_saved_image_uploaded(app, emulator, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(stateless=1, tag=tag))  # keeps no earlier answers
    async with Client(app.server) as client:
        path = await first_image(client, "a lighthouse")
        result = await client.call_tool("generate_image", {"prompt": "paint it red", "edit_of": path})
    assert not result.is_error, result.content[0].text
    assert "could not continue from the earlier image's response" in result.content[0].text
    _, refused, uploaded = [r for r in emulator.requests if r.options.get("tag") == tag]
    assert refused.json["previous_response_id"].startswith("resp_")
    assert "previous_response_id" not in uploaded.json
    (image,) = [part for part in uploaded.json["input"][0]["content"] if part["type"] == "input_image"]
    assert image["image_url"] == "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


async def test_images_mode_edits_the_saved_file(app, emulator):
    marker = uuid.uuid4().hex
    async with Client(app.server) as client:
        path = await first_image(client, f"a meadow {marker}", api_mode="images")
        assert record_of(app, path).get("response_ids") == {}  # the Images API has no answer to refer to
        result = await client.call_tool("generate_image", {"prompt": f"add sheep {marker}", "edit_of": path,
                                                           "api_mode": "images"})
    assert not result.is_error, result.content[0].text
    edit = sent(emulator, marker)[-1]
    assert edit.path == "/v1/images/edits" and [p.data for p in edit.files] == [Path(path).read_bytes()]


async def test_references_that_are_not_this_servers_images_are_refused_before_sending(app, emulator, tmp_path):
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(png(64, 48))
    marker = uuid.uuid4().hex
    async with Client(app.server) as client:
        for ref in (str(elsewhere), str(tmp_path / "missing.png"), "job_0123456789ab", "../../etc/passwd"):
            result = await client.call_tool("generate_image", {"prompt": f"edit {marker}", "edit_of": ref})
            assert result.is_error and "(invalid_input)" in result.content[0].text, ref
    assert sent(emulator, marker) == []


def test_the_lookup_keys_by_principal(tmp_path):
    from bridge.server import downloads
    from bridge.server.background import Jobs
    jobs = Jobs(tmp_path / "jobs")
    image = tmp_path / "made.png"
    image.write_bytes(png(8, 8))
    record = {"id": "job_aaaaaaaaaaaa", "status": "done", "ok": True, "image_paths": [str(image)], "started": 1e12,
              "response_ids": {str(image): "resp_1"}, "owner": "t-alice", "reported": True}
    (tmp_path / "jobs").mkdir(exist_ok=True)
    (tmp_path / "jobs" / "job_aaaaaaaaaaaa.json").write_text(json.dumps(record))
    image_id = downloads.publish("t-alice", str(image))
    assert own_image(jobs, "job_aaaaaaaaaaaa", "t-alice").path == str(image)
    by_id = own_image(jobs, image_id, "t-alice")
    assert by_id.path == str(image) and by_id.response_id == "resp_1"
    for owner, ref in (("t-alice", str(image)),  # a shared server's caller never names a server path
                       ("t-bob", "job_aaaaaaaaaaaa"), ("t-bob", image_id),  # nor sees another caller's work
                       (None, str(image)), (None, "job_aaaaaaaaaaaa"), (None, image_id)):  # nor does the local user
        with pytest.raises(InputError):
            own_image(jobs, ref, owner)

"""The history (SPEC §10): every face records its generations in one SQLite database, searchable,
migrated, written by several processes at once; old job records come in once; deleted files stay
listed, marked missing."""
from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client import advertise

from bridge.config import load_settings
from bridge.history import db, entries, query, record, schema
from bridge.history.upkeep import notice_missing
from bridge.history.cost import reported_cost
from bridge.history.importer import import_job_records
from bridge.paths import user_state_dir
from bridge.user_request import GenerationRequest
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY


def rows(filters: query.Filters | None = None) -> list[sqlite3.Row]:
    conn = db.connect()
    try:
        return query.page(conn, filters or query.Filters(), 0, 200)[1]
    finally:
        conn.close()


def full(entry_id: int) -> tuple[sqlite3.Row, list[sqlite3.Row]]:
    conn = db.connect()
    try:
        return query.entry(conn, entry_id, None), query.files(conn, entry_id)
    finally:
        conn.close()


def test_a_cli_image_is_recorded_with_what_made_it(relay_env, isolated_env):
    run = run_cli("--partial-images", "2", "--size", "1024x1024", "a lighthouse at dusk, 灯塔")
    assert run.code == 0, run.stderr
    result = run.json
    (listed,) = rows()
    entry, files = full(listed["id"])
    assert (entry["face"], entry["kind"], entry["status"], entry["owner"]) == ("cli", "generate", "ok", None)
    assert entry["prompt"] == "a lighthouse at dusk, 灯塔" and entry["uid"].startswith("run_")
    assert (entry["model"], entry["api_mode"], entry["size"], entry["format"]) == \
        ("gpt-image-emulator", result["api_mode"], "1024x1024", "png")
    assert entry["project"] == str(isolated_env) and entry["output_dir"] == str(isolated_env / "outputs")
    assert abs(entry["duration"] - result["elapsed_seconds"]) < 0.01 and entry["started"] <= time.time()
    assert entry["day"] == time.strftime("%Y-%m-%d") and entry["pid"] is None and entry["images"] == 1
    assert json.loads(entry["response_ids"]) == result["response_ids"]
    assert json.loads(entry["request"])["partial_images"] == 2
    assert [(f["kind"], f["idx"], f["path"]) for f in files] == [
        ("image", 0, result["image_path"]), *[("partial", i, p) for i, p in enumerate(result["partial_image_paths"])]]
    assert entry["thumb"] == files[0]["id"] and files[0]["bytes"] == Path(result["image_path"]).stat().st_size
    conn = sqlite3.connect(db.database_path())
    text = conn.execute("SELECT group_concat(prompt) || group_concat(coalesce(request, '')) FROM entries").fetchone()[0]
    assert SENTINEL_KEY not in text and relay_env["IMAGE_RELAY_BASE_URL"] not in text


def test_a_broken_stream_is_recorded_with_its_error_and_kept_partial(relay_env, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(fault="cut-after-partial"))
    run = run_cli("--partial-images", "1", "a ship that never arrives")
    assert run.code == 9
    entry, files = full(rows()[0]["id"])
    assert (entry["status"], entry["error_code"], entry["images"]) == ("partial", "stream_broken", 0)
    assert "partial" in entry["error_message"]
    assert [f["kind"] for f in files] == ["partial"] and entry["thumb"] == files[0]["id"]


def test_a_generation_stopped_by_a_signal_is_recorded_with_its_partials(relay_env):
    settings = load_settings()

    def stop_after_first_partial(progress):
        if progress.stage == "partial":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        record.generate(GenerationRequest(prompt="an interrupted owl", partial_images=2), settings, face="cli",
                        on_progress=stop_after_first_partial)
    entry, files = full(rows()[0]["id"])
    assert (entry["status"], entry["error_code"]) == ("failed", "interrupted") and entry["pid"] is None
    assert [f["kind"] for f in files] == ["partial"] and Path(files[0]["path"]).is_file()


def test_several_images_of_one_call_are_recorded_as_one_entry(relay_env):
    # responses mode: two calls side by side, their partials arriving from two threads at once
    result = record.generate(GenerationRequest(prompt="two owls", n=2, partial_images=2), load_settings(), face="cli")
    assert result.ok and len(result.image_paths) == 2
    (listed,) = rows()
    entry, files = full(listed["id"])
    assert entry["status"] == "ok" and entry["images"] == 2
    assert sorted(f["path"] for f in files if f["kind"] == "image") == sorted(result.image_paths)
    assert len([f for f in files if f["kind"] == "partial"]) == len(result.partial_image_paths) == 4


def test_the_history_never_stands_in_the_way_of_an_image(relay_env):
    user_state_dir().parent.mkdir(parents=True, exist_ok=True)
    user_state_dir().write_text("not a folder")  # the database cannot be made
    run = run_cli("still an image")
    assert run.code == 0 and Path(run.json["image_path"]).is_file()


def test_an_mcp_job_is_recorded_by_its_worker_under_its_job_id(mcp_env, fresh_jobs):
    from bridge.server.app import server

    async def call():
        async with Client(server) as client:
            return await client.call_tool("generate_image", {"prompt": "an mcp heron"})

    result = anyio.run(call)
    assert not result.is_error
    (listed,) = rows()
    entry, files = full(listed["id"])
    assert entry["face"] == "mcp" and entry["uid"].startswith("job_") and entry["owner"] is None
    assert entry["project"] == str(mcp_env) and files[0]["path"] in result.content[0].text
    assert (user_state_dir() / "jobs" / f"{entry['uid']}.json").is_file()


def test_a_card_action_is_recorded_as_the_cards(mcp_env, fresh_jobs, emulator, monkeypatch):
    from bridge.server.app import server
    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})

    async def call():
        async with Client(server, extensions=[apps], read_timeout_seconds=60) as client:
            await client.call_tool("generate_image", {"prompt": "a card fox"})
            started = await client.call_tool("card_generate", {"action": "regenerate",
                                                                "arguments": {"prompt": "a card fox"}})
            job = started.meta["image-relay-bridge/card"]["job"]
            for _ in range(200):
                status = await client.call_tool("card_status", {"job_id": job, "deliver": True})
                if status.meta["image-relay-bridge/card"]["status"] != "pending":
                    return job
            raise AssertionError("the card's job never ended")

    job = anyio.run(call)
    faces = {row["uid"]: row["face"] for row in rows()}
    assert faces[job] == "card" and sorted(faces.values()) == ["card", "mcp"]


def test_search_finds_words_prefixes_and_chinese_and_nothing_else(tmp_path):
    conn = db.connect()
    for i, prompt in enumerate(["a red fox in the snow", "雪地里的红狐狸", "a blue whale", "foxglove flowers"]):
        entries.begin(conn, _fields(f"run_{i}", prompt))
    found = lambda text: sorted(r["prompt"] for r in query.page(conn, query.Filters(text=text))[1])  # noqa: E731
    assert query.search_kind(conn) == "fts5"
    assert found("fox") == ["a red fox in the snow", "foxglove flowers"]
    assert found("FOX snow") == ["a red fox in the snow"]
    assert found("狐狸") == ["雪地里的红狐狸"] and found("红狐") == ["雪地里的红狐狸"] and found("狸雪") == []
    assert found("whale") == ["a blue whale"] and found("dog") == [] and found('"') == found("")
    assert found("AND OR NOT *") == []  # operators are words here, never syntax


def test_without_fts5_search_falls_back_to_substrings(monkeypatch):
    def no_fts5(conn):
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('search', 'like')")

    monkeypatch.setattr(schema, "STEPS", [schema.STEPS[0], no_fts5])
    conn = db.connect()
    for i, prompt in enumerate(["a red fox", "雪地里的红狐狸", "100% cotton_shirt"]):
        entries.begin(conn, _fields(f"run_{i}", prompt))
    found = lambda text: sorted(r["prompt"] for r in query.page(conn, query.Filters(text=text))[1])  # noqa: E731
    assert query.search_kind(conn) == "like"
    assert found("fox") == ["a red fox"] and found("狐狸") == ["雪地里的红狐狸"] and found("0%") == ["100% cotton_shirt"]
    assert found("_") == ["100% cotton_shirt"] and found("%") == ["100% cotton_shirt"]


def test_an_older_database_is_migrated_and_its_entries_become_searchable():
    path = db.database_path()
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(old, upto=1) == 1
    old.execute("INSERT INTO entries (uid, face, kind, prompt, started, day, status, request) "
                "VALUES ('run_1', 'cli', 'generate', 'an old otter', 1, '2026-01-01', 'ok', '{}')")
    old.close()
    conn = db.connect()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION == 2
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r["prompt"] for r in query.page(conn, query.Filters(text="otter"))[1]] == ["an old otter"]


def _write_many(args: tuple[str, int, int]) -> None:
    import os
    home, worker, count = args
    os.environ["XDG_STATE_HOME"] = home
    os.environ["LOCALAPPDATA"] = home
    for i in range(count):
        conn = db.connect()
        entry = entries.begin(conn, _fields(f"run_{worker}_{i}", f"picture by writer{worker}, number {i}"))
        entries.finish(conn, entry, {"status": "ok", "duration": 1.0}, [f"/x/{worker}-{i}.png"], [])
        conn.close()


def test_several_processes_write_at_once(tmp_path, monkeypatch):
    home = str(tmp_path / "shared-state")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_write_many, [(home, worker, 25) for worker in range(4)])
    monkeypatch.setenv("XDG_STATE_HOME", home)
    monkeypatch.setenv("LOCALAPPDATA", home)
    conn = db.connect()
    assert conn.execute("SELECT count(*), count(DISTINCT uid), sum(images) FROM entries").fetchone()[:] == (100, 100, 100)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert query.page(conn, query.Filters(text="writer3"))[0] == 25


def test_old_job_records_are_imported_once(tmp_path):
    jobs = user_state_dir() / "jobs"
    jobs.mkdir(parents=True)
    image = tmp_path / "outputs" / "heron.png"
    image.parent.mkdir()
    image.write_bytes(b"png")
    done = {"id": "job_aaaa", "status": "done", "ok": True, "prompt": "a heron (cut to 120 chars)", "started": 1000.0,
            "image_paths": [str(image)], "partial_image_paths": [], "actual_size": "1024x1024", "output_format": "png",
            "elapsed_seconds": 12.5, "owner": "t-alice"}
    lost = {"id": "job_bbbb", "status": "lost", "prompt": "a lost crane", "started": 1001.0, "partial_image_paths": []}
    running = {"id": "job_cccc", "status": "running", "prompt": "still going", "started": 1002.0}
    for item in (done, lost, running):
        (jobs / f"{item['id']}.json").write_text(json.dumps(item))
    (jobs / "job_aaaa.result").write_text(json.dumps({"alt_text": "a heron, the whole prompt", "model": "gpt-image-1",
                                                      "usage": {"cost": 0.04}, "ok": True}))
    conn = db.connect()
    assert import_job_records(conn, jobs) == 2 and import_job_records(conn, jobs) == 0
    heron = query.entry(conn, "job_aaaa", "t-alice")
    assert (heron["prompt"], heron["model"], heron["cost"], heron["status"]) == ("a heron, the whole prompt",
                                                                                 "gpt-image-1", 0.04, "ok")
    assert heron["project"] == str(tmp_path) and heron["duration"] == 12.5
    crane = query.entry(conn, "job_bbbb", None)
    assert (crane["status"], crane["error_code"]) == ("lost", "lost") and query.entry(conn, "job_cccc", None) is None


def test_a_deleted_file_stays_listed_marked_missing(relay_env):
    path = Path(run_cli("a fleeting cloud").json["image_path"])
    run_cli("a lasting stone")
    conn = db.connect()
    cloud = next(r for r in rows() if r["prompt"] == "a fleeting cloud")
    path.unlink()
    assert notice_missing(conn, [f["id"] for f in query.files(conn, cloud["id"])]) == {cloud["thumb"]: True}
    assert [r["prompt"] for r in query.page(conn, query.Filters(status="missing"))[1]] == ["a fleeting cloud"]
    assert len(rows()) == 2 and query.entry(conn, cloud["id"], None)["missing"] == 1


def test_a_reported_cost_is_read_from_the_usage_relays_send():
    assert reported_cost({"prompt_tokens": 10, "cost": 0.0000113}) == 0.0000113  # OpenRouter
    assert reported_cost({"cost_in_usd_ticks": 200000000}) == 0.02  # xAI
    assert reported_cost({"input_tokens": 5, "tool_usage": {"image_gen": {"cost": "0.04"}}}) == 0.04
    assert reported_cost({"input_tokens": 5}) is None and reported_cost(None) is None
    assert reported_cost({"cost": True}) is None and reported_cost({"cost": -1}) is None


def _fields(uid: str, prompt: str) -> dict:
    return {"uid": uid, "face": "cli", "owner": None, "kind": "generate", "prompt": prompt, "started": time.time(),
            "day": time.strftime("%Y-%m-%d"), "request": {"prompt": prompt}, "project": "/p", "status": "running"}

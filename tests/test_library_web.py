"""image-relay-library over real HTTP: what it refuses (SPEC §10), what it serves, and the billed
actions it runs as jobs."""
from __future__ import annotations

import base64
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from bridge.history import db, query, running
from bridge.library.web import LibraryServer
from bridge.result import markdown_image
from tests.clirun import run_cli
from tests.conftest import SENTINEL_KEY


class Library:
    """A client of a library on ``port`` that holds its key, as the browser that opened it does."""

    def __init__(self, port: int, token: str, csrf: str = "", server: LibraryServer | None = None) -> None:
        self.port, self.token, self.csrf, self.server = port, token, csrf, server
        self.cookie_name = f"image_relay_library_{port}"

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
                cookie: bool = True, csrf: bool = True) -> tuple[int, dict, bytes]:
        sent = {"Host": f"127.0.0.1:{self.port}"}
        if cookie:
            sent["Cookie"] = f"{self.cookie_name}={self.token}"
        if csrf and method == "POST":
            sent["X-CSRF-Token"] = self.csrf
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.putrequest(method, path, skip_host=True)
        for name, value in sent.items():
            if value is not None:
                conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data

    def json(self, path: str, **kwargs) -> dict:
        status, _, data = self.request("GET", path, **kwargs)
        assert status == 200, (path, status, data[:200])
        return json.loads(data)

    def post(self, path: str, body: dict, **kwargs) -> tuple[int, dict]:
        status, _, data = self.request("POST", path, body=json.dumps(body).encode(), **kwargs)
        return status, json.loads(data) if data.startswith(b"{") else {"text": data.decode()}

    def wait_job(self, job: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            card = self.json(f"/api/job/{job}")["card"]
            if card["status"] != "pending":
                return card
        raise AssertionError(f"job {job} never ended")


@pytest.fixture
def library(relay_env):
    server = LibraryServer(0, language="en")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield Library(server.port, server.guard.token, server.guard.csrf, server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def made(relay_env, tmp_path, monkeypatch):
    """Three CLI images in two projects."""
    paths = []
    for project, prompt in (("garden", "a red fox among tulips"), ("garden", "a heron at the pond"),
                            ("harbour", "a lighthouse in fog")):
        folder = tmp_path / project
        folder.mkdir(exist_ok=True)
        monkeypatch.chdir(folder)
        run = run_cli("--size", "64x48", prompt)
        assert run.code == 0, run.stderr
        paths.append(run.json["image_path"])
    return paths


PATHS = ["/", "/card", "/library.js", "/library.css", "/api/entries", "/api/facets", "/api/totals", "/api/entry/1",
         "/api/job/job_0123456789ab", "/thumb/1", "/file/1"]


def test_the_printed_link_becomes_a_strict_cookie_and_leaves_the_address_bar(library):
    status, headers, _ = library.request("GET", f"/?k={library.token}&entry=3", cookie=False)
    assert status == 303 and headers["location"] == "/?entry=3"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{library.cookie_name}={library.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    status, headers, page = library.request("GET", "/")
    assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]
    assert library.csrf.encode() in page and library.token.encode() not in page


def test_every_request_without_the_token_is_refused(library, made):
    wrong = {"Cookie": f"{library.cookie_name}={'x' * len(library.token)}"}
    for path in PATHS:
        assert library.request("GET", path, cookie=False)[0] == 403, path
        assert library.request("GET", path, cookie=False, headers=wrong)[0] == 403, path
    assert library.request("GET", "/?k=not-the-token", cookie=False)[0] == 403
    assert library.request("GET", "/api/entries?k=" + library.token, cookie=False)[0] == 403  # only the page takes it
    status, _, body = library.request("POST", "/api/open-folder", body=b'{"entry": 1}', cookie=False)
    assert status == 403 and b"image-relay-library printed" in body


def test_a_foreign_host_gets_421_whatever_else_it_carries(library, made):
    for host in ("evil.example", f"evil.example:{library.port}", f"127.0.0.1:{library.port + 1}",
                 f"localhost.evil.example:{library.port}", None):
        for path in ("/", "/file/1", f"/?k={library.token}"):
            assert library.request("GET", path, headers={"Host": host})[0] == 421, (host, path)
    assert library.post("/api/open-folder", {"entry": 1}, headers={"Host": "evil.example"})[0] == 421
    for host in (f"localhost:{library.port}", f"[::1]:{library.port}", f"127.0.0.1:{library.port}"):
        assert library.request("GET", "/api/facets", headers={"Host": host})[0] == 200, host


def test_a_foreign_origin_gets_403(library, made):
    for origin in ("http://evil.example", f"http://evil.example:{library.port}", f"http://127.0.0.1:{library.port + 1}",
                   "null", f"https://127.0.0.1:{library.port}"):
        assert library.request("GET", "/api/entries", headers={"Origin": origin})[0] == 403, origin
        assert library.post("/api/open-folder", {"entry": 1}, headers={"Origin": origin})[0] == 403, origin
    own = {"Origin": f"http://127.0.0.1:{library.port}"}
    assert library.request("GET", "/api/entries", headers=own)[0] == 200


def test_a_change_needs_the_pages_csrf_token(library, made, monkeypatch):
    opened = []
    monkeypatch.setattr("bridge.viewer.open_image", lambda path: opened.append(path) or True)
    assert library.post("/api/open-folder", {"entry": 1}, csrf=False)[0] == 403
    assert library.post("/api/open-folder", {"entry": 1}, csrf=False, headers={"X-CSRF-Token": "0" * 64})[0] == 403
    assert library.post("/api/open-folder", {"entry": 1}, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert opened == []
    status, body = library.post("/api/open-folder", {"entry": 1}, headers={"Sec-Fetch-Site": "same-origin"})
    assert status == 200 and opened == [str(Path(made[0]).parent)] == [body["folder"]]
    assert library.request("GET", "/api/open-folder")[0] == 404  # never by GET


def test_only_files_the_history_records_are_served(library, made):
    conn = db.connect()
    files = {row["path"]: row["id"] for row in conn.execute("SELECT id, path FROM files")}
    status, headers, data = library.request("GET", f"/file/{files[made[0]]}?download=1")
    assert status == 200 and data == Path(made[0]).read_bytes() and headers["content-type"] == "image/png"
    assert headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    for path in ("/file/999", "/file/-1", "/file/1.png", "/file/../../etc/passwd", "/file/%2e%2e%2fetc%2fpasswd",
                 "/file/" + made[0], "/file?path=" + made[0], "/thumb/999", "/api/entry/999", "/api/entry/../1",
                 "//etc/passwd", "/page/library.html", "/bridge/library/web.py"):
        status, _, data = library.request("GET", path)
        assert status == 404, (path, status)
        assert b"root:" not in data and b"PNG" not in data
    # another caller's entry is as unknown as one that never was
    conn.execute("UPDATE entries SET owner = 't-alice' WHERE id = (SELECT entry FROM files WHERE id = ?)",
                 (files[made[1]],))
    assert library.request("GET", f"/file/{files[made[1]]}")[0] == 404
    Path(made[2]).unlink()
    assert library.request("GET", f"/file/{files[made[2]]}")[0] == 404


def test_the_relay_key_and_address_never_reach_a_page(library, made, relay_env):
    seen = b""
    for path in PATHS + ["/api/totals?by=day", "/api/entries?q=fox", "/thumb/1?size=large"]:
        seen += library.request("GET", path)[2]
    seen += library.request("POST", "/api/action", body=b'{"entry": 1, "action": "nonsense"}')[2]
    assert SENTINEL_KEY.encode() not in seen and relay_env["IMAGE_RELAY_BASE_URL"].encode() not in seen
    assert b"127.0.0.1:%d" % int(relay_env["IMAGE_RELAY_BASE_URL"].split(":")[2].split("/")[0]) not in seen


def test_it_listens_on_loopback_only(library):
    assert library.server.server_address[0] == "127.0.0.1"
    help_text = subprocess.run([sys.executable, "-m", "bridge.library.main", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    assert "--port" in help_text and "--host" not in help_text


def test_pages_search_filters_and_totals(library, made):
    page = library.json("/api/entries")
    assert page["total"] == 3 and [e["prompt"] for e in page["entries"]] == [
        "a lighthouse in fog", "a heron at the pond", "a red fox among tulips"]  # newest first
    assert all(e["thumb"] and not e["missing"] and e["face"] == "cli" for e in page["entries"])
    assert [e["prompt"] for e in library.json("/api/entries?q=heron")["entries"]] == ["a heron at the pond"]
    assert library.json("/api/entries?limit=2&offset=2")["entries"][0]["prompt"] == "a red fox among tulips"
    facets = library.json("/api/facets")
    garden = next(p["value"] for p in facets["projects"] if p["value"].endswith("garden"))
    assert {p["count"] for p in facets["projects"]} == {2, 1} and facets["models"] == [
        {"value": "gpt-image-emulator", "count": 3}]
    assert library.json(f"/api/entries?project={garden}")["total"] == 2
    assert library.json("/api/entries?status=failed")["total"] == 0
    assert library.json("/api/entries?status=ok&model=gpt-image-emulator")["total"] == 3
    today = time.strftime("%Y-%m-%d")
    assert library.json(f"/api/entries?since={today}&until={today}")["total"] == 3
    assert library.json("/api/entries?until=2000-01-01")["total"] == 0
    totals = library.json("/api/totals")
    assert totals["day"] == [{"key": today, "images": 3, "entries": 3, "cost": None, "priced": 0}]
    assert totals["month"][0]["key"] == today[:7] and totals["model"][0]["key"] == "gpt-image-emulator"
    conn = db.connect()
    conn.execute("UPDATE entries SET cost = 0.04 WHERE prompt LIKE 'a heron%'")
    assert library.json(f"/api/totals?project={garden}")["day"][0] == {"key": today, "images": 2, "entries": 2,
                                                                        "cost": 0.04, "priced": 1}


def test_a_detail_describes_the_entry_as_the_card_draws_it(library, made):
    entry_id = library.json("/api/entries?q=lighthouse")["entries"][0]["id"]
    detail = library.json(f"/api/entry/{entry_id}")
    card = detail["card"]
    assert detail["entry"]["prompt"] == card["prompt"] == "a lighthouse in fog"
    assert detail["markdown"] == markdown_image(made[2], "a lighthouse in fog")
    assert card["status"] == "done" and card["size"] == "64x48" and card["images"][0]["path"] == made[2]
    assert card["images"][0]["uri"] == f"image-relay://library/files/{card['images'][0]['file']}"
    assert card["folder"] == Path(made[2]).parent.as_uri() and card["arguments"]["prompt"] == "a lighthouse in fog"


def test_a_thumbnail_is_made_once_and_kept(library, made, monkeypatch):
    import bridge.images.pillow as pillow
    made_count = []
    real = pillow.preview
    monkeypatch.setattr(pillow, "preview", lambda *a: made_count.append(a) or real(*a))
    thumb = library.json("/api/entries")["entries"][0]["thumb"]
    first = library.request("GET", f"/thumb/{thumb}")
    again = library.request("GET", f"/thumb/{thumb}")
    assert first[0] == again[0] == 200 and first[2] == again[2] and len(made_count) == 1
    assert first[1]["content-type"] == "image/jpeg" and Image.open(io.BytesIO(first[2])).size == (64, 48)
    assert Image.open(io.BytesIO(library.request("GET", f"/thumb/{thumb}?size=large")[2])).size == (64, 48)


def test_a_deleted_file_is_listed_as_missing(library, made):
    Path(made[0]).unlink()
    fox = next(e for e in library.json("/api/entries")["entries"] if e["prompt"].startswith("a red fox"))
    assert fox["missing"] is True
    detail = library.json(f"/api/entry/{fox['id']}")
    assert detail["entry"]["missing"] is True and detail["files"][0]["missing"] is True
    assert detail["card"]["images"][0]["missing"] is True
    assert [e["prompt"] for e in library.json("/api/entries?status=missing")["entries"]] == ["a red fox among tulips"]


def relay_posts(emulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "POST")


def test_a_variation_is_one_billed_job_recorded_as_the_librarys(library, made, emulator):
    entry_id = library.json("/api/entries?q=heron")["entries"][0]["id"]
    before = relay_posts(emulator)
    status, body = library.post("/api/action", {"entry": entry_id, "action": "variation", "n": 1})
    assert status == 200 and body["card"]["job"].startswith("job_")
    card = library.wait_job(body["card"]["job"])
    assert card["status"] == "done" and card["prompt"] == "a heron at the pond"
    assert relay_posts(emulator) == before + 1
    page = library.json("/api/entries")
    assert page["total"] == 4 and page["entries"][0]["face"] == "library"
    assert Path(card["images"][0]["path"]).parent == Path(made[1]).parent  # where the entry's images went
    marker = db.database_path().parent / "jobs" / f"{card['job']}.reported"
    for _ in range(100):  # the job ends just after its worker recorded the image
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists()  # no MCP server will tell its model about it


def test_an_identical_action_while_one_runs_joins_it(library, made, emulator, monkeypatch):
    monkeypatch.setenv("IMAGE_RELAY_BASE_URL", emulator.url(delay=0.4))
    entry_id = library.json("/api/entries?q=fox")["entries"][0]["id"]
    before = relay_posts(emulator)
    first = library.post("/api/action", {"entry": entry_id, "action": "regenerate"})[1]["card"]["job"]
    second = library.post("/api/action", {"entry": entry_id, "action": "regenerate"})[1]["card"]["job"]
    assert first == second
    assert library.wait_job(first)["status"] == "done" and relay_posts(emulator) == before + 1


def test_an_edit_with_a_painted_mask_runs_on_the_picked_image(library, made, emulator):
    entry_id = library.json("/api/entries?q=lighthouse")["entries"][0]["id"]
    mask = Image.new("RGBA", (64, 48), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (10, 10, 30, 30))
    out = io.BytesIO()
    mask.save(out, "PNG")
    assert library.post("/api/action", {"entry": entry_id, "action": "edit", "prompt": " "})[0] == 400
    status, body = library.post("/api/action", {"entry": entry_id, "action": "edit", "prompt": "add a boat",
                                                "mask_png": base64.b64encode(out.getvalue()).decode()})
    assert status == 200
    card = library.wait_job(body["card"]["job"])
    conn = db.connect()
    row = query.entry(conn, card["job"], None)
    asked = json.loads(row["request"])
    assert row["kind"] == "edit" and row["face"] == "library" and asked["image_paths"] == [made[2]]
    assert Path(asked["mask_path"]).read_bytes() == out.getvalue() and card["status"] == "done"
    bad = library.post("/api/action", {"entry": entry_id, "action": "edit", "prompt": "x", "mask_png": "bm90IGEgcG5n"})
    assert bad[0] == 400 and "PNG" in bad[1]["error"]


def test_without_a_relay_an_action_says_what_is_missing_and_sends_nothing(library, made, monkeypatch, emulator):
    monkeypatch.delenv("IMAGE_RELAY_API_KEY")
    before = relay_posts(emulator)
    status, body = library.post("/api/action", {"entry": 1, "action": "regenerate"})
    assert status == 400 and "IMAGE_RELAY_API_KEY" in body["error"] and relay_posts(emulator) == before


def test_the_command_prints_a_keyed_link_and_a_second_run_opens_the_first(relay_env, made):
    jobs = db.database_path().parent / "jobs"  # a job an MCP server recorded before the history existed
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / "job_0123456789ab.json").write_text(json.dumps({
        "id": "job_0123456789ab", "status": "done", "ok": True, "prompt": "an older owl", "started": time.time() - 60,
        "image_paths": [made[0]], "partial_image_paths": []}), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "bridge.library.main", "--no-open"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", env=dict(os.environ))
    try:
        line = proc.stdout.readline()
        assert line.startswith("image-relay-library: serving at http://127.0.0.1:") and "?k=" in line
        url = line.split()[-1]
        found = running.current()
        assert url == f"http://127.0.0.1:{found['port']}/?k={found['token']}"
        if os.name != "nt":  # a Windows venv's python.exe starts the interpreter as a child of its own
            assert found["pid"] == proc.pid
        if os.name != "nt":
            assert running.state_file().stat().st_mode & 0o077 == 0
        library = Library(found["port"], found["token"])
        for _ in range(100):  # older job records come in as the library starts
            if library.json("/api/entries")["total"] == 4:
                break
            time.sleep(0.05)
        assert [e["prompt"] for e in library.json("/api/entries?q=owl")["entries"]] == ["an older owl"]
        again = subprocess.run([sys.executable, "-m", "bridge.library.main", "--no-open"], capture_output=True,
                               text=True, encoding="utf-8", timeout=60, env=dict(os.environ))
        assert again.returncode == 0 and again.stdout.strip() == f"image-relay-library: already serving at {url}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert running.current() is None  # the pid it names is gone, whether or not the file went with it
    if os.name != "nt":  # SIGTERM is a clean stop there; Windows' TerminateProcess cannot be caught
        assert not running.state_file().exists()


def test_the_library_works_without_the_mcp_extra():
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] in ('mcp', 'anyio', 'starlette', 'pydantic'):\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import bridge.library.main, bridge.library.web, bridge.library.actions, bridge.server.runner\n"
            "import bridge.history.record, bridge.cli\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr

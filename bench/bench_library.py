#!/usr/bin/env python3
"""The library at scale: a generated history of 10,000 records, served by image-relay-library.

    python bench/bench_library.py [RECORDS]   # prints figures; run by hand (default 10000)

Targets (issue: the library): the first page under 300 ms from a warm start, a search under
100 ms, the page's memory flat while scrolling (it loads by pages and draws only what is in view).

1. Recording: every record written through the history's own writes (begin + finish), one
   transaction each, as the faces write them.
2. Warm start: image-relay-library started ten times more after a first start that warmed the
   disk cache, timed from the process starting to the page, its script and style and the first
   page of entries served; the page's request alone once it runs; a static file over the same HTTP as
   the floor, and the same query run in-process on SQLite without HTTP.
3. Search: words from common to absent, Chinese and two-word, each 30 times over HTTP (median and
   95th percentile), beside the bare SQLite query.
4. Thumbnails of the first page: made (Pillow) and then cached.
5. Scrolling: headless Chromium scrolls the page from the top to the end of the history in 40
   steps, reading the JS heap, the DOM node count, the tiles in the DOM and the pages fetched
   (needs the npm packages check-library installs, in IRB_LIBRARY_DIR).
"""
from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Where check-library keeps puppeteer-core, read before the bench points HOME at its own folder.
NPM_CACHE = Path(os.environ.get("IRB_LIBRARY_DIR") or Path.home() / ".cache" / "image-relay-bridge-library")
WORDS = ("red fox heron lighthouse harbour paper boat rainy street misty pond tulips garden castle dragon forest "
         "mountain river sunset neon city portrait watercolor oil sketch cat dog owl whale robot astronaut desert "
         "snow winter summer night morning cyberpunk vintage poster logo icon landscape ocean island bridge train").split()
CHINESE = ("雪地里的红狐狸", "雨中的纸船", "雾中的灯塔", "山水画", "城市夜景", "水彩肖像")
QUERIES = ("fox", "lighthouse", "castle dragon", "狐狸", "灯塔", "zebra", "wat")


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    home = Path(tempfile.mkdtemp(prefix="bench-library-"))
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache"),
           "XDG_DATA_HOME": str(home / "data"), "LOCALAPPDATA": str(home / "local"), "IMAGE_RELAY_LANG": "en"}
    os.environ.update(env)
    try:
        took = generate(records, home / "outputs")
        print(f"history: {records} records, {records} image files; recording took {took:.1f} s "
              f"({1e6 * took / records:.0f} us a record)")
        start_measures(env, records)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def generate(records: int, folder: Path) -> float:
    """Records spread over a year, newest last; every fifth Chinese, some failed, some priced."""
    from bridge.history import db, entries
    from tests.images import png
    folder.mkdir(parents=True)
    picture = png(256, 192)
    rng = random.Random(7)
    now = time.time()
    conn = db.connect()
    started = time.perf_counter()
    for i in range(records):
        when = now - (records - i) * 365 * 86400 / records
        prompt = rng.choice(CHINESE) if i % 5 == 0 else " ".join(rng.sample(WORDS, 6))
        path = folder / f"image-{i:05d}.png"
        path.write_bytes(picture)
        ok = i % 23 != 0
        entry = entries.begin(conn, {
            "uid": f"run_{i:08x}", "face": ("cli", "mcp", "card", "library")[i % 4], "owner": None, "kind": "generate",
            "prompt": prompt, "model": ("gpt-image-1.5", "gpt-image-2", "grok-imagine-image")[i % 3],
            "api_mode": "responses", "size": "1024x1024", "format": "png", "project": f"/projects/p{i % 7}",
            "output_dir": str(folder), "started": when, "day": time.strftime("%Y-%m-%d", time.localtime(when)),
            "request": {"prompt": prompt}, "pid": os.getpid()})
        entries.finish(conn, entry, {"status": "ok" if ok else "failed", "duration": 20 + i % 60,
                                     "error_code": None if ok else "relay_error", "cost": 0.04 if i % 3 == 2 else None},
                       [str(path)] if ok else [], [] if ok else [str(path)])
    conn.close()
    return time.perf_counter() - started


def start_measures(env: dict, records: int, starts: int = 10) -> None:
    cold = _serve(env, records)  # the first start warms the disk cache and the interpreter's files
    print(f"first start: process start -> page, script, style and first page of 60 served: {1000 * cold[1]:.0f} ms")
    warm = [_serve(env, records) for _ in range(starts)]
    print(f"warm start ({starts} starts): process start -> listening {_fmt([w[0] for w in warm])}; -> page, script, "
          f"style and first page of 60 served {_fmt([w[1] for w in warm])}, worst {1000 * max(w[1] for w in warm):.0f} ms"
          f" (target < 300)")
    bare = _times(lambda: subprocess.run([sys.executable, "-c", "pass"], env=env, check=True), starts)
    print(f"floor: a bare interpreter start and exit, {_fmt(bare)}")
    _serve(env, records, measure=True)


def _serve(env: dict, records: int, measure: bool = False) -> tuple[float, float]:
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.library.main", "--no-open", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        listening = time.perf_counter() - began
        url = line.split()[-1]
        port, token = int(url.split(":")[2].split("/")[0]), url.split("k=")[1]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Host": f"127.0.0.1:{port}", "Cookie": f"image_relay_library_{port}={token}"}
        for path in ("/", "/library.js", "/library.css", "/api/entries?offset=0&limit=60"):
            body = _get(conn, path, headers)
        first_page = time.perf_counter() - began
        assert json.loads(body)["total"] == records
        if not measure:
            return listening, first_page
        page = _times(lambda: _get(conn, "/api/entries?offset=0&limit=60", headers), 30)
        floor = _times(lambda: _get(conn, "/library.css", headers), 30)
        deep = _times(lambda: _get(conn, f"/api/entries?offset={records - 60}&limit=60", headers), 30)
        print(f"first page again (HTTP): {_fmt(page)}; the last page: {_fmt(deep)}; floor, a static file over the "
              f"same HTTP: {_fmt(floor)}; the query alone in SQLite: {_fmt(_sqlite_page(''))}")
        worst = 0.0
        for query in QUERIES:
            from urllib.parse import quote
            took = _times(lambda: _get(conn, f"/api/entries?offset=0&limit=60&q={quote(query)}", headers), 30)
            found = json.loads(_get(conn, f"/api/entries?limit=1&q={quote(query)}", headers))["total"]
            worst = max(worst, _p95(took))
            print(f"search {query!r:16} {found:5d} found: {_fmt(took)} (SQLite alone {_fmt(_sqlite_page(query))})")
        print(f"search, worst 95th percentile: {1000 * worst:.1f} ms (target < 100)")
        ids = [e["thumb"] for e in json.loads(_get(conn, "/api/entries?offset=0&limit=60", headers))["entries"]]
        made = _clock(lambda: [_get(conn, f"/thumb/{i}", headers) for i in ids])
        cached = _clock(lambda: [_get(conn, f"/thumb/{i}", headers) for i in ids])
        print(f"thumbnails of the first page (60, 256x192 PNGs): made {1000 * made:.0f} ms, then cached {1000 * cached:.0f} ms")
        _scroll(url, records)
        return listening, first_page
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _scroll(url: str, records: int) -> None:
    cache = NPM_CACHE
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not (cache / "node_modules" / "puppeteer-core").is_dir() or not chromium or not shutil.which("node"):
        print("scrolling: skipped (run checks/check-library once to install puppeteer-core, and install chromium)")
        return
    script = cache / "host" / "library_scroll.mjs"
    script.parent.mkdir(exist_ok=True)
    shutil.copy(ROOT / "bench" / "library_scroll.mjs", script)
    out = subprocess.run(["node", str(script), url, chromium, str(records)], capture_output=True, text=True, timeout=600)
    print(out.stdout.rstrip() or out.stderr[-2000:])


def _get(conn: http.client.HTTPConnection, path: str, headers: dict) -> bytes:
    conn.request("GET", path, headers=headers)
    answer = conn.getresponse()
    body = answer.read()
    assert answer.status == 200, (path, answer.status)
    return body


def _sqlite_page(text: str) -> list[float]:
    from bridge.history import db, query
    conn = db.connect()
    try:
        return _times(lambda: query.page(conn, query.Filters(text=text), 0, 60), 30)
    finally:
        conn.close()


def _clock(work) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def _times(work, runs: int) -> list[float]:
    return [_clock(work) for _ in range(runs)]


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def _fmt(values: list[float]) -> str:
    return f"median {1000 * statistics.median(values):.1f} ms, p95 {1000 * _p95(values):.1f} ms"


if __name__ == "__main__":
    main()

"""image-relay-library: every image the bridge made, as a page in the browser (SPEC §10).

Serves the history on 127.0.0.1 and opens the page; the URL it prints carries the page's key. A
second run while one serves opens that one. Ctrl-C (or SIGTERM) stops it; jobs it started run on
in their own processes and are recorded all the same.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from .. import __version__
from ..system.console import utf8_stdio
from ..history import running

PROG = "image-relay-library"
TIDY_AFTER_SECONDS = 2.0


def main(argv: list[str] | None = None) -> int:
    utf8_stdio()
    parser = argparse.ArgumentParser(prog=PROG, description="Every image image-relay-bridge made, with its prompt, "
                                     "size and cost, as a page in your browser (on this machine only).")
    parser.add_argument("--port", type=int, help="the port to serve on (default: a free one, or the library "
                        "already running)")
    parser.add_argument("--no-open", action="store_true", help="print the address, do not open the browser")
    parser.add_argument("--verbose", action="store_true", help="log each request on stderr")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    found = running.current()
    if found is not None and args.port in (None, found["port"]) and found.get("token"):
        url = running.page_url(found["port"]) + f"?k={found['token']}"
        print(f"{PROG}: already serving at {url}", flush=True)
        if not args.no_open:
            _open(url)
        return 0
    from .web import LibraryServer
    try:
        server = LibraryServer(args.port or 0)
    except OSError as exc:
        print(f"{PROG}: cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc}).", file=sys.stderr)
        return 1
    server.quiet = not args.verbose
    threading.Thread(target=_tidy, name="library-tidy", daemon=True).start()
    running.announce(server.port, server.guard.token)
    url = server.url()
    print(f"{PROG}: serving at {url}", flush=True)
    print(f"{PROG}: press Ctrl-C to stop.", file=sys.stderr, flush=True)
    if not args.no_open:
        _open(url)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        running.withdraw()
        server.server_close()
    return 0


def _open(url: str) -> None:
    import webbrowser
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def _tidy() -> None:
    """Once, off the serving path: older job records in at once (a few small files), then, once the
    first page is served, lost jobs and deleted files noticed and old thumbnails out."""
    import time

    from ..history import upkeep
    from ..history.db import connect
    from ..history.importer import import_job_records
    from ..paths import user_state_dir
    from . import thumbs
    try:
        conn = connect()
        try:
            import_job_records(conn, user_state_dir() / "jobs")
            time.sleep(TIDY_AFTER_SECONDS)
            upkeep.settle_running(conn)
            ids = [row[0] for row in conn.execute("SELECT id FROM files")]
            for start in range(0, len(ids), 500):
                upkeep.notice_missing(conn, ids[start:start + 500])
        finally:
            conn.close()
        thumbs.prune()
    except Exception as exc:  # noqa: BLE001 - the page works without it
        print(f"{PROG}: could not tidy the history ({exc.__class__.__name__}: {exc}).", file=sys.stderr)

if __name__ == "__main__":
    sys.exit(main())

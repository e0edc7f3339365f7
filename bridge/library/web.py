"""The library's HTTP server on loopback: the guard first, then the page, its JSON, thumbnails and
the recorded files, nothing else. Standard library only (http.server), a thread per request,
each with a database connection from a small pool."""
from __future__ import annotations

import json
import mimetypes
import queue
import re
import shutil
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from . import api, thumbs
from .actions import Actions
from ..history.db import connect
from ..i18n import N_, language as reader_language, translate
from .guard import Guard
from .words import strings

MAX_BODY = 32 * 1024 * 1024  # an edit's painted mask, base64
MEDIA = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
ASSETS = {"/library.js": "text/javascript; charset=utf-8", "/library.css": "text/css; charset=utf-8"}
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
            "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# The card runs as in an MCP Apps host: inline script and style, data: images, no network.
CARD_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
_ROUTES = [(re.compile(p), name) for p, name in (
    (r"^/$", "page"), (r"^/card$", "card"), (r"^/library\.(js|css)$", "asset"), (r"^/api/entries$", "entries"),
    (r"^/api/facets$", "facets"), (r"^/api/totals$", "totals"), (r"^/api/entry/(\d+)$", "detail"),
    (r"^/api/job/((?:job|run)_[0-9a-f]{1,32})$", "job"), (r"^/thumb/(\d+)$", "thumb"), (r"^/file/(\d+)$", "file"),
    (r"^/api/action$", "action"), (r"^/api/open-folder$", "open_folder"))]
_POSTS = ("action", "open_folder")


class LibraryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0, token: str | None = None, language: str | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)  # loopback only, whatever the arguments
        self.port = self.server_address[1]
        self.guard = Guard(self.port, token)
        self.language = language or reader_language()
        self.actions = Actions()
        self._pool: queue.SimpleQueue = queue.SimpleQueue()
        self.quiet = True

    @contextmanager
    def connection(self):
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = connect()
        try:
            yield conn
        finally:
            self._pool.put(conn)

    def url(self, with_token: bool = True) -> str:
        return f"http://127.0.0.1:{self.port}/" + (f"?k={self.guard.token}" if with_token else "")


class Handler(BaseHTTPRequestHandler):
    server: LibraryServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle's algorithm holds the body
    # until the client's delayed ACK, some 40 ms a response on loopback.
    disable_nagle_algorithm = True
    server_version = "image-relay-library"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if not self.server.quiet:
            super().log_message(format, *args)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        key = (params.get("k") or [None])[0] if url.path == "/" else None
        refused = self.server.guard.refusal(method, self.headers, key)
        if refused:
            self.close_connection = True  # a refused request's body is never read
            return self._send(refused[0], translate(refused[1], self.server.language).encode("utf-8"),
                              "text/plain; charset=utf-8")
        if key:  # the printed link: its token becomes the cookie, and leaves the address bar
            rest = {k: v for k, v in params.items() if k != "k"}
            target = "/" + ("?" + "&".join(f"{quote(k)}={quote(v[0])}" for k, v in rest.items()) if rest else "")
            return self._send(303, b"", "text/plain", {"Location": target, "Set-Cookie": self.server.guard.set_cookie()})
        for pattern, name in _ROUTES:
            found = pattern.match(url.path)
            if found and (method == "POST") == (name in _POSTS):
                return getattr(self, f"_{name}")(params, *found.groups())
        self.close_connection = method != "GET"
        self._send(404 if method == "GET" else 405, b"Not found.", "text/plain; charset=utf-8")

    # -- routes ------------------------------------------------------------------------------

    def _page(self, params) -> None:
        config = {"csrf": self.server.guard.csrf, "lang": self.server.language,
                  "strings": strings(self.server.language)}
        text = _asset("library.html").replace("{{lang}}", self.server.language).replace(
            "{{config}}", json.dumps(config, ensure_ascii=False).replace("<", "\\u003c"))
        self._send(200, text.encode("utf-8"), "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})

    def _card(self, params) -> None:
        html = resources.files("bridge.server").joinpath("card/card.html").read_text(encoding="utf-8")
        self._send(200, html.encode("utf-8"), "text/html; charset=utf-8", {"Content-Security-Policy": CARD_CSP})

    def _asset(self, params, kind: str) -> None:
        name = f"/library.{kind}"
        self._send(200, _asset(name[1:]).encode("utf-8"), ASSETS[name])

    def _entries(self, params) -> None:
        self._api(api.page, params)

    def _facets(self, params) -> None:
        self._api(api.facets, params)

    def _totals(self, params) -> None:
        self._api(api.totals, params)

    def _detail(self, params, ref: str) -> None:
        self._api(lambda conn, _: api.detail(conn, ref, self.server.actions), params)

    def _job(self, params, job_id: str) -> None:
        self._api(lambda conn, p: api.job(conn, job_id, p, self.server.actions), params)

    def _action(self, params) -> None:
        self._api(lambda conn, body: api.action(conn, body, self.server.actions), self._body())

    def _open_folder(self, params) -> None:
        self._api(api.open_folder, self._body())

    def _thumb(self, params, file_id: str) -> None:
        path = self._recorded(int(file_id))
        made = thumbs.thumbnail(path, "large" if params.get("size") == ["large"] else "grid") if path else None
        if made is None:
            return self._send(404, b"No such picture.", "text/plain; charset=utf-8")
        self._send(200, made[0], made[1], {"Cache-Control": "private, max-age=86400"})

    def _file(self, params, file_id: str) -> None:
        path = self._recorded(int(file_id))
        if path is None:
            return self._send(404, b"No such file.", "text/plain; charset=utf-8")
        extra = {"Cache-Control": "private, max-age=86400"}
        if params.get("download") == ["1"]:
            name = Path(path).name
            extra["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
        media = MEDIA.get(Path(path).suffix.lower()) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        try:
            with open(path, "rb") as handle:
                size = Path(path).stat().st_size
                self._start(200, media, size, extra)
                shutil.copyfileobj(handle, self.wfile, 1 << 20)
        except OSError:
            self.close_connection = True

    # -- helpers -----------------------------------------------------------------------------

    def _recorded(self, file_id: int) -> str | None:
        """The path the history records for this file id, if the file is there: never a path from the request."""
        from ..history.query import file
        with self.server.connection() as conn:
            row = file(conn, file_id, None)
        return row["path"] if row is not None and Path(row["path"]).is_file() else None

    def _api(self, endpoint, argument) -> None:
        if argument is None:
            status, body = 400, {"error": N_("The request was not JSON.")}
        else:
            with self.server.connection() as conn:
                status, body = endpoint(conn, argument)
        if "error" in body:  # the page shows it: in the reader's language
            body["error"] = translate(body["error"], self.server.language)
        self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8",
                   {"Cache-Control": "no-store"})

    def _body(self) -> dict | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if not 0 < length <= MAX_BODY or "json" not in (self.headers.get("Content-Type") or ""):
            self.close_connection = True
            return None
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _send(self, status: int, body: bytes, media: str, headers: dict | None = None) -> None:
        self._start(status, media, len(body), headers)
        self.wfile.write(body)

    def _start(self, status: int, media: str, length: int, headers: dict | None = None) -> None:
        self.send_response(status)
        if self.close_connection:
            headers = {**(headers or {}), "Connection": "close"}  # else a client reuses a socket about to close
        for name, value in {"Content-Type": media, "Content-Length": str(length), "X-Content-Type-Options": "nosniff",
                            "Referrer-Policy": "no-referrer", **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(f"page/{name}").read_text(encoding="utf-8")

"""The request handler: options, recording, faults and the routes under ``/v1``."""
from __future__ import annotations

import dataclasses
import json
import sys
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from . import routes
from .faults import ALL_FAULTS, canned_fault, error_body
from .images import ERROR_FLAT, ERROR_NESTED, UPSTREAM_ERROR
from .jobs import ApiError, bad_request
from .openrouter import failed_generation
from .options import Options, split_options
from .pages import SPA_PAGE
from .pictures import Pictures
from .records import RecordedRequest
from .tasks import answer as task_answer
from .wire import Writer, play

_BOMB: bytes | None = None


def gzip_bomb(size: int = 320 * 1024 * 1024) -> bytes:
    """gzip of a JSON body of ``size`` bytes; made once (about 0.3 MB)."""
    global _BOMB
    if _BOMB is None:
        import zlib
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [packer.compress(b'{"data":[],"pad":"')]
        block = b"A" * (1 << 20)
        parts += [packer.compress(block) for _ in range(size >> 20)]
        parts.append(packer.compress(b'"}') + packer.flush())
        _BOMB = b"".join(parts)
    return _BOMB

if TYPE_CHECKING:
    from .server import Emulator

# gpt-image-emulator is this relay's own model: any size from 16 to 4096 px a side, for quick trials and tests.
MODELS = ["gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini", "gpt-image-2", "gpt-image-emulator", "gpt-5",
          "gpt-5-mini", "gpt-4.1", "gpt-4.1-mini", "gemini-3-pro-image", "gemini-3-pro-image-preview",
          "gemini-3.1-flash-image", "gemini-2.5-flash-image"]
WHITESPACE = b"\n\n   \n"  # keep-alive blank lines written ahead of a JSON body (R22)
EXPIRED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired'
           b'</Message><RequestId>emulator-0001</RequestId></Error>')


def _asks_async(record: RecordedRequest) -> bool:
    """new-api's ways to ask for an async task: "async": true, or Prefer: respond-async."""
    if "respond-async" in record.headers.get("prefer", "").lower():
        return True
    value = record.json.get("async") if isinstance(record.json, dict) else record.form.get("async")
    return value is True or str(value).lower() == "true"



class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "image-relay-emulator"
    disable_nagle_algorithm = True  # small paced writes must leave at once

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        with self.server.emulator._lock:
            self.server.emulator._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.emulator._lock:
            self.server.emulator._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args) -> None:
        if self.server.emulator.verbose:
            sys.stderr.write("[emulator] " + (format % args) + "\n")

    def do_GET(self) -> None:
        try:
            self._serve()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        em = self.server.emulator
        raw, prefix, path, query = split_options(self.path)
        self._prefix = prefix
        opts = self._opts = Options.parse(raw, delay=em.delay, chunk=em.chunk)
        record = RecordedRequest.build(self.command, path, raw, self.headers, self._read_body(), query)
        if not em._record(record, prefix, opts.times):
            opts = dataclasses.replace(opts, fault=None)
        writer = Writer(self, opts, em._wait)
        if opts.fault == "drop":
            self.close_connection = True  # hang up without a byte
            return
        if opts.fault == "processing-102":
            self.wfile.write(b"HTTP/1.1 102 Processing\r\n\r\n")  # relay keep-alive (R23)
            self.wfile.flush()
            em._wait(0.2)
        try:
            self._route(em, record, opts, writer, path)
        except ApiError as exc:
            writer.send(exc.status, json.dumps(exc.payload).encode(), headers=exc.headers)

    def _route(self, em: Emulator, record: RecordedRequest, opts: Options, writer: Writer, path: str) -> None:
        if path.startswith("/files/") and self.command == "GET":
            return self._file(em, writer, path)
        if path != "/v1" and not path.startswith(("/v1/", "/v1beta/")):
            return writer.send(200, SPA_PAGE, "text/html; charset=utf-8")  # relay web UI (R3)
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        for header in ("api-key", "x-goog-api-key"):  # Azure-style gateways; Gemini's own header
            if scheme.lower() != "bearer" and self.headers.get(header):
                scheme, token = "bearer", self.headers[header]
        if scheme.lower() != "bearer" and "key=" in record.query:  # Gemini's ?key= (new-api takes it too)
            scheme, token = "bearer", dict(p.partition("=")[::2] for p in record.query.split("&")).get("key", "")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, error_body(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."))
        fault = opts.fault
        if fault and fault not in ALL_FAULTS:
            raise bad_request(f"Unknown emulator fault '{fault}'. Known: {', '.join(sorted(ALL_FAULTS))}.", "fault")
        canned = canned_fault(fault or "", token.strip())
        if canned is not None:
            return writer.send(canned.status, canned.body, canned.content_type, canned.headers)
        if fault == "redirect":
            # A relay that moved: the same emulator without the fault would answer with an image.
            host = self.headers.get("Host") or f"{em.host}:{em.port}"
            return writer.send(307, b"", "text/plain", {"Location": f"http://{host}{path}"})
        if fault == "gzip-bomb":
            return self._bomb()
        if fault in ("endless-line", "endless-image") and self.command == "POST":
            return self._endless(em, writer, fault)
        route = (self.command, path.rstrip("/"))
        if route == ("GET", "/v1/models") and fault == "models-500":
            raise ApiError(500, error_body("The server had an error while listing models.", "server_error"))
        if route == ("GET", "/v1/models"):
            data = [{"id": m, "object": "model", "created": 1767225600, "owned_by": "openai"} for m in MODELS]
            return self._json(writer, opts, {"object": "list", "data": data})
        found = routes.match(self.command, path)
        if found is not None and found.kind == "task":
            return self._task(em, writer, opts, found.model)
        if found is not None and found.kind in ("generations", "edits", "responses") and \
                fault in ("openrouter-only", "openrouter-502"):
            found = None  # OpenRouter's images are only on /images (and chat)
        if found is not None and found.kind == "openrouter" and fault == "openrouter-502":
            raise failed_generation()
        if found is None or (found.kind == "responses" and fault == "no-responses-route") or \
                (found.kind in ("chat", "gemini") and fault == f"no-{found.kind}-route"):
            raise ApiError(404, error_body(f"Invalid URL ({self.command} {path})"))
        if found.kind == "edits" and fault == "edits-501":  # one-api has no edits relay (R2)
            raise ApiError(501, error_body("API not implemented", "one_api_error", "", "api_not_implemented"))
        return self._generate(em, record, opts, writer, found)

    def _bomb(self) -> None:
        """A 200 JSON answer of a few hundred KB that inflates past every body cap."""
        body = gzip_bomb()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _endless(self, em: Emulator, writer: Writer, fault: str) -> None:
        """One SSE data line that never ends (bounded here at 2 GiB or when the client hangs up):
        in a plain field, or in an image's base64."""
        writer.start(200, "text/event-stream; charset=utf-8")
        if fault == "endless-image":
            writer.write(b'data: {"type":"response.output_item.done","output_index":0,"item":{"result":"')
        else:
            writer.write(b"data: {\"type\":\"response.created\",\"pad\":\"")
        block = b"A" * 65536
        for _ in range(32768):
            if em._stopping.is_set():
                break
            writer.write(block)
        writer.abort()

    def _file(self, em: Emulator, writer: Writer, path: str) -> None:
        if "Authorization" in self.headers:
            # A relay's file URL must never be sent the user's key.
            raise ApiError(403, error_body("Authorization header not accepted on file URLs.", "forbidden"))
        file_id = path[len("/files/"):].removesuffix(".png")
        data = em._files.get(file_id)
        if data is None:
            raise ApiError(404, error_body(f"File not found: {file_id}", "not_found_error"))
        if self._opts.fault == "expired-link":  # an object store's pre-signed link, a day later
            return writer.send(403, EXPIRED, "application/xml")
        if self._opts.fault == "json-link":  # an error where the image should be, under an image type
            return writer.send(200, b'{"error":{"code":"FileNotReady","message":"The file is not available."}}',
                               "image/png")
        if self._opts.filedrip:
            writer.start(200, "image/png", length=len(data))
            for i in range(len(data)):
                writer.write(data[i:i + 1])
                em._wait(self._opts.filedrip)
            return writer.finish()
        writer.send(200, data, "image/png")

    def _task(self, em: Emulator, writer: Writer, opts: Options, task_id: str) -> None:
        task = em.tasks.get(task_id)
        if task is None:
            raise ApiError(404, error_body(f"Task not found: {task_id}", "not_found_error", code="task_not_found"))
        status, body, headers = task_answer(task, opts)
        writer.send(status, json.dumps(body).encode(), headers=headers)

    def _generate(self, em: Emulator, record: RecordedRequest, opts: Options, writer: Writer,
                  route: routes.Route) -> None:
        job = routes.job_for(route, record, opts, em._earlier_image)
        prefix = self._prefix
        pictures = Pictures(job, opts)
        host = self.headers.get("Host") or f"{em.host}:{em.port}"
        if opts.filehost:  # files on a host apart from the relay's, as on a CDN
            host = f"{opts.filehost}:{em.port}"
        if route.kind in ("generations", "edits") and (opts.task or _asks_async(record)):
            task = em.tasks.make(pictures, job.n, opts, lambda data: em._publish(data, host, prefix),
                                 record.headers.get("idempotency-key"))
            status, body, headers = task_answer(task, opts, first=True)
            return writer.send(status, json.dumps(body).encode(), headers=headers)
        builder = routes.builder_for(route, job, pictures, opts, lambda data: em._publish(data, host, prefix))
        if route.kind == "responses" and not opts.stateless and not opts.fault and job.has_tool:
            em._remember(builder.id, pictures)
        if job.stream and opts.fault not in ("leading-whitespace", "json-for-stream"):
            return play(writer, builder.stream(), opts, em._wait)
        fault = opts.fault
        if fault in ("stall", "buffered"):
            em._wait(opts.stall if opts.stall is not None else (30.0 if fault == "stall" else 2.0))
        if fault == "error-event-flat":
            raise ApiError(500, error_body(ERROR_FLAT["message"], "server_error", code="server_error"))
        if fault == "error-event-nested":
            raise ApiError(429, {"error": ERROR_NESTED["error"]})
        if fault == "error-data-only":  # a relay that buffered the failed stream answers 200 (R26)
            return writer.send(200, json.dumps({"error": UPSTREAM_ERROR}).encode())
        self._json(writer, opts, builder.body())

    def _json(self, writer: Writer, opts: Options, payload: dict) -> None:
        body = json.dumps(payload).encode()
        if opts.fault == "leading-whitespace":
            body = WHITESPACE + body
        if opts.fault == "cut-after-partial":
            # Announce the whole body, send half, hang up.
            writer.start(200, "application/json", length=len(body))
            writer.write(body[: len(body) // 2])
            return writer.abort()
        writer.send(200, body)

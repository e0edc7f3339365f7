"""The emulated relay server: lifecycle, recorded requests, per-prefix counters and file URLs."""
from __future__ import annotations

import socket
import sys
import threading
import uuid
from collections import OrderedDict
from http.server import ThreadingHTTPServer

from .handler import Handler
from .options import option_segments
from .pictures import Pictures
from .records import RecordedRequest
from .tasks import Tasks


MAX_ANSWERS = 256  # Responses answers kept for previous_response_id, oldest forgotten first


class Emulator:
    """A local OpenAI-compatible image relay. Use ``start_emulator`` to get a running one."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0, chunk: int | None = None):
        self.delay = delay
        self.chunk = chunk
        self.verbose = False
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._files: dict[str, bytes] = {}
        self._answers: OrderedDict[str, Pictures] = OrderedDict()  # response id -> its images (previous_response_id)
        self.tasks = Tasks()  # async image tasks (tasks.py)
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), Handler)
        self._server.emulator = self
        self.host = host
        self.port = self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return self.url()

    def url(self, **options) -> str:
        """Base URL (ending in ``/v1``) with per-request options, e.g. ``url(fault="drop")``."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        prefix = option_segments(options)
        return f"http://{host}:{self.port}/" + (prefix + "/" if prefix else "") + "v1"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="image-relay-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until ``shutdown_server`` (from another thread)."""
        self._server.serve_forever(poll_interval=0.2)

    def shutdown_server(self) -> None:
        self._server.shutdown()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # streams still in flight would otherwise hold their clients
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._stopping.set()  # wake stalled handlers; their next write fails and they exit

    def reset(self) -> None:
        """Forget recorded requests and ``times`` counters."""
        with self._lock:
            self.requests.clear()
            self._counts.clear()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- used by the handler ------------------------------------------------------------------

    def _record(self, record: RecordedRequest, prefix: str, times: int | None) -> bool:
        """Store the request; return whether its fault applies (``times`` counts per prefix)."""
        with self._lock:
            self.requests.append(record)
            seen = self._counts[prefix] = self._counts.get(prefix, 0) + 1
        return times is None or seen <= times

    def _remember(self, response_id: str, pictures: Pictures) -> None:
        """Keep a Responses answer's images (drawn again on demand) so a later request can continue from it."""
        with self._lock:
            self._answers[response_id] = pictures
            while len(self._answers) > MAX_ANSWERS:
                self._answers.popitem(last=False)

    def _earlier_image(self, response_id: str) -> bytes | None:
        with self._lock:
            pictures = self._answers.get(response_id)
        return None if pictures is None else pictures.final_bytes(0)

    def _publish(self, data: bytes, host: str, prefix: str = "") -> str:
        """A relay file URL for data; it keeps the request's options (``filedrip``) in its path."""
        file_id = "file_" + uuid.uuid4().hex[:16]
        with self._lock:
            self._files[file_id] = data
        return f"http://{host}/{prefix + '/' if prefix else ''}files/{file_id}.png"

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: Emulator

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is not worth a traceback
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def start_emulator(host: str = "127.0.0.1", port: int = 0, delay: float = 0.0, chunk: int | None = None) -> Emulator:
    """Start an emulator on a background thread; ``port=0`` picks a free port."""
    return Emulator(host, port, delay, chunk).start()

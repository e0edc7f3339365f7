"""HTTP to the relay: the only module that knows ``requests``.

Streams are read with urllib3's ``read1``: it hands over each piece as it arrives, where
``iter_content(chunk_size=None)`` holds a close-delimited stream until EOF. Foreign exceptions
are translated here, once, into the bridge's own; their text (which carries URLs) is never used.
"""
from __future__ import annotations

import contextvars
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .config import Settings
from .errors import Cancelled, NetworkError, ProtocolError, RequestTimeout
from .failures import error_from_body
from .request import HttpCall

READ_SIZE = 65536
ERROR_BODY_LIMIT = 1 << 20
USER_AGENT = "image-relay-bridge"
_REQUEST_ID_HEADERS = ("x-request-id", "x-api-request-id", "openai-request-id", "x-oneapi-request-id", "cf-ray")


class CancelToken:
    """Lets another thread stop a running job.

    Its sockets are shut down, so a read blocked on a silent relay (waiting for headers or for
    the next event) returns at once instead of at the idle timeout.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("The image job was cancelled.")

    def _add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self._event.is_set():
                sock.shutdown(socket.SHUT_RDWR)


_ACTIVE_TOKEN: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("cancel_token", default=None)


class _Tracked:
    """Registers each new socket with the job's CancelToken (connect runs in the job's thread)."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        token = _ACTIVE_TOKEN.get()
        if token is not None and getattr(self, "sock", None) is not None:
            token._add(self.sock)  # type: ignore[attr-defined]


class _HTTPConnection(_Tracked, HTTPConnection):
    pass


class _HTTPSConnection(_Tracked, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", _Adapter())
    session.mount("https://", _Adapter())
    return session


@dataclass
class Reply:
    """A successful answer whose body has not been read yet."""

    status: int
    content_type: str
    request_id: str | None
    headers: dict[str, str]
    _response: requests.Response
    _settings: Settings
    _deadline: float
    _cancel: CancelToken

    @property
    def is_event_stream(self) -> bool:
        return "text/event-stream" in self.content_type

    def chunks(self) -> Iterator[bytes]:
        """Body bytes as they arrive; raises RequestTimeout / NetworkError / Cancelled."""
        raw = self._response.raw
        while True:
            self._cancel.check()
            if time.monotonic() > self._deadline:
                raise _deadline_error(self._settings)
            try:
                data = raw.read1(READ_SIZE)
            except Exception as exc:  # urllib3 and http.client raise a zoo of types here
                self._cancel.check()
                raise _stream_error(exc, self._settings) from None
            if not data:
                return
            yield data


@contextmanager
def open_call(settings: Settings, call: HttpCall, *, deadline: float, cancel: CancelToken) -> Iterator[Reply]:
    """Send ``call`` and yield the Reply of a 2xx answer; any other answer raises a BridgeError."""
    cancel.check()
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT,
               "Accept": "text/event-stream, application/json" if call.stream else "application/json"}
    # The read timeout also bounds the wait for the first byte, so it never outlives the job's deadline.
    read_timeout = max(0.5, min(settings.idle_timeout, deadline - time.monotonic()))
    kwargs: dict = {"headers": headers, "stream": True, "timeout": (settings.connect_timeout, read_timeout)}
    if call.json is not None:
        kwargs["json"] = call.json
    else:
        kwargs["data"] = call.fields
        kwargs["files"] = [(part, (filename, data, mime)) for part, filename, data, mime in call.files]
    session = _session()
    reset = _ACTIVE_TOKEN.set(cancel)
    try:
        response = session.post(f"{settings.base_url}/{call.endpoint}", **kwargs)
    except Exception as exc:
        session.close()
        cancel.check()
        if isinstance(exc, requests.exceptions.ReadTimeout) and time.monotonic() >= deadline - 0.5:
            raise _deadline_error(settings) from None
        raise _connect_error(exc, settings) from None
    finally:
        _ACTIVE_TOKEN.reset(reset)
    try:
        content_type = response.headers.get("Content-Type", "")
        lowered = {k.lower(): v for k, v in response.headers.items()}
        request_id = next((lowered[h] for h in _REQUEST_ID_HEADERS if h in lowered), None)
        if response.status_code == 102:
            raise ProtocolError("The relay sent a 102 Processing keep-alive, which the HTTP client takes as the final "
                                "answer; ask the relay to disable 102 keep-alives or use IMAGE_RELAY_API_MODE=images "
                                "with partial images.", code="processing_102", status_code=102)
        if not 200 <= response.status_code < 300:
            body = _read_capped(response, settings, deadline, cancel)
            error = error_from_body(response.status_code, content_type, body)
            error.retry_after = _retry_after(lowered)
            raise error
        yield Reply(response.status_code, content_type, request_id, lowered, response, settings, deadline, cancel)
    finally:
        response.close()
        session.close()


def download(url: str, settings: Settings, *, limit: int, cancel: CancelToken) -> bytes:
    """Fetch an image URL a relay returned, without the API key, with a timeout and a size cap."""
    cancel.check()
    reset = _ACTIVE_TOKEN.set(cancel)
    try:
        with _session() as session, session.get(url, stream=True, headers={"User-Agent": USER_AGENT},
                                                timeout=(settings.connect_timeout, settings.idle_timeout)) as response:
            if response.status_code != 200:
                raise NetworkError(f"Downloading the image the relay linked to failed with HTTP {response.status_code}.",
                                   code="download_failed", status_code=response.status_code, retryable=False)
            data = bytearray()
            for piece in response.iter_content(READ_SIZE):
                cancel.check()
                data += piece
                if len(data) > limit:
                    raise ProtocolError(f"The linked image is larger than {limit // 1048576} MB.", code="image_too_large")
            return bytes(data)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        cancel.check()
        raise _connect_error(exc, settings, what="the image link the relay returned") from None
    finally:
        _ACTIVE_TOKEN.reset(reset)


def _read_capped(response: requests.Response, settings: Settings, deadline: float, cancel: CancelToken) -> bytes:
    body = bytearray()
    reply = Reply(response.status_code, "", None, {}, response, settings, deadline, cancel)
    try:
        for piece in reply.chunks():
            body += piece
            if len(body) >= ERROR_BODY_LIMIT:
                break
    except NetworkError:
        pass  # the status alone still tells what happened
    return bytes(body)


def _retry_after(headers: dict[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue  # an HTTP date: treated as no hint
    return None


def _connect_error(exc: BaseException, settings: Settings, what: str = "the relay") -> NetworkError:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RequestTimeout(f"Could not connect to {what} within {settings.connect_timeout:g} s; check the network "
                              "and IMAGE_RELAY_BASE_URL.", code="connect_timeout")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return RequestTimeout(f"{what[0].upper()}{what[1:]} sent nothing for {settings.idle_timeout:g} s after the "
                              "request; it may be buffering the whole answer until the image is done. Raise "
                              "IMAGE_RELAY_IDLE_TIMEOUT for slow relays.", code="idle_timeout")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema |
                  requests.exceptions.InvalidSchema):
        return NetworkError("IMAGE_RELAY_BASE_URL is not a valid http(s) URL.", code="invalid_url", retryable=False)
    text = repr(exc)
    refused = "refused" in text.lower() or "NameResolution" in text or "getaddrinfo" in text.lower()
    return NetworkError(f"Cannot reach {what}: {'connection refused or host not found' if refused else 'the connection failed'}. "
                        "Check IMAGE_RELAY_BASE_URL and the network.",
                        code="cannot_connect", retryable=refused)


def _deadline_error(settings: Settings) -> RequestTimeout:
    return RequestTimeout(f"The job passed its total time limit of {settings.total_timeout:g} s; raise "
                          "IMAGE_RELAY_TIMEOUT or --timeout for slow relays.", code="deadline")


def _stream_error(exc: BaseException, settings: Settings) -> NetworkError:
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return RequestTimeout(f"The relay stopped sending: no bytes for {settings.idle_timeout:g} s. Raise "
                              "IMAGE_RELAY_IDLE_TIMEOUT if this relay goes quiet for long.", code="idle_timeout")
    return NetworkError("The connection to the relay broke while the answer was arriving.", code="connection_broken")


@dataclass(frozen=True)
class ProbeAnswer:
    status: int | None  # None when the relay could not be reached
    content_type: str
    body: bytes
    problem: str | None = None


def probe(settings: Settings, method: str, path: str, *, json: dict | None = None,
          files: list[tuple[str, tuple[str, bytes, str]]] | None = None) -> ProbeAnswer:
    """One small request whose answer is only inspected (doctor); never raises for HTTP errors."""
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    try:
        with _session() as session, session.request(
                method, f"{settings.base_url}{path}", headers=headers, json=json, files=files, stream=True,
                timeout=(settings.connect_timeout, min(settings.idle_timeout, 30.0))) as response:
            body = response.raw.read(ERROR_BODY_LIMIT, decode_content=True) or b""
            return ProbeAnswer(response.status_code, response.headers.get("Content-Type", ""), body)
    except Exception as exc:  # translated below; the text of foreign errors carries the URL
        return ProbeAnswer(None, "", b"", problem=_connect_error(exc, settings).message)

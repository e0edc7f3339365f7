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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import compression
from ..config import Settings
from ..errors import Cancelled, NetworkError, ProtocolError, RelayRejected, RequestTimeout
from .diagnose import error_from_body
from .links import PeerGuard, check_link, error_in_body, link_refused, private_allowed
from .call import BEARER, HttpCall

READ_SIZE = 65536
ERROR_BODY_LIMIT = 1 << 20
MAX_REDIRECTS = 5
USER_AGENT = "image-relay-bridge"
_REQUEST_ID_HEADERS = ("x-request-id", "x-api-request-id", "openai-request-id", "x-oneapi-request-id", "cf-ray")


class CancelToken:
    """Lets another thread stop a running job.

    Its sockets are shut down, so a read blocked on a silent relay (waiting for headers or for
    the next event) returns at once instead of at the idle timeout.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._expired = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def expired(self) -> bool:
        """The job's total deadline passed while a socket was open (see ``watchdog``)."""
        return self._expired.is_set()

    def cancel(self) -> None:
        self._event.set()
        self._shutdown()

    def expire(self) -> None:
        self._expired.set()
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
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
            if self._event.is_set() or self._expired.is_set():
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def watchdog(cancel: CancelToken, deadline: float) -> Iterator[None]:
    """Shut the job's sockets at the deadline: a relay that drips one byte at a time never
    trips a read timeout, so only this bounds the wait for a status line, headers or a body."""
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cancel.expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


_ACTIVE_TOKEN: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("cancel_token", default=None)
_PEER_GUARD: contextvars.ContextVar[PeerGuard | None] = contextvars.ContextVar("peer_guard", default=None)


class _PeerRefused(OSError):
    pass


class _Tracked:
    """Registers each new socket with the job's CancelToken (connect runs in the job's thread)."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        sock = getattr(self, "sock", None)
        guard = _PEER_GUARD.get()
        if guard is not None and sock is not None and not guard.allows(sock.getpeername()[0]):
            guard.refused = True
            sock.close()
            raise _PeerRefused("image link to a private address")
        token = _ACTIVE_TOKEN.get()
        if token is not None and sock is not None:
            token._add(sock)  # type: ignore[attr-defined]


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
    _read_timeout: float

    @property
    def is_event_stream(self) -> bool:
        return "text/event-stream" in self.content_type

    def chunks(self) -> Iterator[bytes]:
        """Decoded body bytes as they arrive; raises RequestTimeout / NetworkError / Cancelled."""
        return _body(self._response, self._settings, self._deadline, self._cancel, self._read_timeout)


def _body(response: requests.Response, settings: Settings, deadline: float, cancel: CancelToken,
          read_timeout: float, what: str = "the relay") -> Iterator[bytes]:
    decoder = compression.Decoder(response.headers.get("Content-Encoding"))
    raw = response.raw
    while True:
        cancel.check()
        if time.monotonic() > deadline or cancel.expired:
            raise _deadline_error(settings)
        try:
            data = raw.read1(READ_SIZE, decode_content=False)
        except Exception as exc:  # urllib3 and http.client raise a zoo of types here
            cancel.check()
            if cancel.expired or time.monotonic() >= deadline - 0.05:
                raise _deadline_error(settings) from None
            raise _stream_error(exc, read_timeout, what) from None
        if not data:
            decoder.close()
            return
        yield from decoder.feed(data)


def _headers(settings: Settings, accept: str, stream: bool, key_header: str = BEARER,
             own: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": accept,
               # Streams ask for no compression: a compressing proxy holds SSE back until its buffer
               # fills, which hides progress; whatever arrives compressed is decoded all the same.
               "Accept-Encoding": "identity" if stream else compression.ACCEPTED}
    if settings.api_key and key_header == BEARER:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    elif settings.api_key:
        headers[key_header] = settings.api_key  # x-goog-api-key: Gemini's way; never in the URL
    headers.update(own)
    lowered = {k.lower() for k in settings.extra_headers}
    for name in [h for h in headers if h.lower() in lowered]:
        del headers[name]  # the user's own header wins, e.g. an Authorization of another scheme
    headers.update(settings.extra_headers)
    return headers


@contextmanager
def open_call(settings: Settings, call: HttpCall, *, deadline: float, cancel: CancelToken) -> Iterator[Reply]:
    """Send ``call`` and yield the Reply of a 2xx answer; any other answer raises a BridgeError."""
    cancel.check()
    if time.monotonic() >= deadline:
        raise _deadline_error(settings)
    headers = _headers(settings, "text/event-stream, application/json" if call.stream else "application/json",
                       call.stream, call.key_header, call.headers)
    # The read timeout also bounds the wait for the first byte, so it never outlives the job's deadline.
    read_timeout = max(0.5, min(settings.idle_timeout, deadline - time.monotonic()))
    kwargs: dict = {"headers": headers, "stream": True, "allow_redirects": False,
                    "timeout": (min(settings.connect_timeout, read_timeout), read_timeout)}
    if call.json is not None:
        kwargs["json"] = call.json
    elif call.method != "GET":
        kwargs["data"] = call.fields
        kwargs["files"] = [(part, (filename, data, mime)) for part, filename, data, mime in call.files]
    session = _session()
    reset = _ACTIVE_TOKEN.set(cancel)
    with watchdog(cancel, deadline):
        try:
            response = session.request(call.method, f"{call.base or settings.base_url}/{call.endpoint}", **kwargs)
        except Exception as exc:
            session.close()
            cancel.check()
            if cancel.expired or time.monotonic() >= deadline - 0.05:
                raise _deadline_error(settings) from None
            raise _connect_error(exc, settings, read_timeout=read_timeout) from None
        finally:
            _ACTIVE_TOKEN.reset(reset)
        try:
            content_type = response.headers.get("Content-Type", "")
            lowered = {k.lower(): v for k, v in response.headers.items()}
            request_id = next((lowered[h] for h in _REQUEST_ID_HEADERS if h in lowered), None)
            if response.status_code == 102:
                raise ProtocolError("The relay sent a 102 Processing keep-alive, which the HTTP client takes as the "
                                    "final answer; ask the relay to disable 102 keep-alives or use "
                                    "IMAGE_RELAY_API_MODE=images with partial images.", code="processing_102",
                                    status_code=102)
            if 300 <= response.status_code < 400:
                raise RelayRejected(f"The relay answered HTTP {response.status_code}, a redirect, which the bridge does "
                                    "not follow with your key; update IMAGE_RELAY_BASE_URL to the relay's current "
                                    "address.", code="redirected", status_code=response.status_code)
            if not 200 <= response.status_code < 300:
                body = _read_capped(response, settings, deadline, cancel, read_timeout)
                error = error_from_body(response.status_code, content_type, body)
                error.retry_after = retry_after(lowered)
                raise error
            yield Reply(response.status_code, content_type, request_id, lowered, response, settings, deadline, cancel,
                        read_timeout)
        finally:
            response.close()
            session.close()


def download(url: str, settings: Settings, *, limit: int, cancel: CancelToken, deadline: float | None = None,
             sink: Callable[[bytes], None] | None = None) -> bytes:
    """Fetch an image link a relay returned: http(s) only, never with the key or extra headers,
    never to a private address unless the relay itself is on one (and never on a shared server),
    redirects under the same rules, within the job's deadline and ``limit`` bytes. An error the file
    host sends instead of the image (even under an image content type) is a ``link_failed`` error.
    With ``sink`` the image goes there piece by piece as it arrives (never whole in memory) and b""
    is returned; else the bytes are. Error text never quotes the link."""
    cancel.check()
    deadline = deadline if deadline is not None else time.monotonic() + settings.total_timeout
    guard = PeerGuard(allow_private=private_allowed(settings.base_url, settings.shared))
    reset, reset_guard = _ACTIVE_TOKEN.set(cancel), _PEER_GUARD.set(guard)
    what = "the image link the relay returned"
    try:
        with watchdog(cancel, deadline), _session() as session:
            for _ in range(MAX_REDIRECTS + 1):
                check_link(url, guard)
                read_timeout = max(0.5, min(settings.idle_timeout, deadline - time.monotonic()))
                try:
                    response = session.get(url, stream=True, allow_redirects=False, headers={
                        "User-Agent": USER_AGENT, "Accept-Encoding": compression.ACCEPTED},
                        timeout=(min(settings.connect_timeout, read_timeout), read_timeout))
                except Exception as exc:
                    cancel.check()
                    if guard.refused:
                        raise link_refused("points at a private or local network address") from None
                    if cancel.expired or time.monotonic() >= deadline - 0.05:
                        raise _deadline_error(settings) from None
                    raise _connect_error(exc, settings, what=what, read_timeout=read_timeout) from None
                with response:
                    if response.is_redirect and response.headers.get("Location"):
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status_code != 200:
                        status = response.status_code
                        said = error_in_body(_read_capped(response, settings, deadline, cancel, read_timeout))
                        raise NetworkError(f"The file host answered HTTP {status} ({said})." if said else
                                           f"The file host answered HTTP {status}.", code="download_failed",
                                           status_code=status, retryable=False)
                    return _image_body(response, settings, deadline, cancel, read_timeout, what, limit, sink)
            raise link_refused(f"redirected more than {MAX_REDIRECTS} times")
    finally:
        _ACTIVE_TOKEN.reset(reset)
        _PEER_GUARD.reset(reset_guard)


def _image_body(response: requests.Response, settings: Settings, deadline: float, cancel: CancelToken,
                read_timeout: float, what: str, limit: int, sink: Callable[[bytes], None] | None) -> bytes:
    """A linked image's bytes, to ``sink`` as they come (or gathered); only an answer that may be an
    error (one that begins with "{" or "<", which no image does) is also kept, up to 1 MiB, to read it."""
    data, head, size = bytearray(), bytearray(), 0
    for piece in _body(response, settings, deadline, cancel, read_timeout, what):
        size += len(piece)
        if size > limit:
            raise ProtocolError(f"The linked image is larger than {limit // 1048576} MB.", code="image_too_large")
        if size == len(piece) or len(head):
            if piece.lstrip()[:1] in (b"{", b"<") or len(head):
                head += piece[:ERROR_BODY_LIMIT - len(head)]
        if sink is not None:
            sink(piece)
        else:
            data += piece
    said = error_in_body(bytes(head)) if head else None
    if said is not None:
        raise ProtocolError(f"The file host answered with an error instead of the image ({said}).",
                            code="link_failed")
    return bytes(data)


def _read_capped(response: requests.Response, settings: Settings, deadline: float, cancel: CancelToken,
                 read_timeout: float) -> bytes:
    """The first ERROR_BODY_LIMIT decoded bytes of an answer that is only inspected."""
    body = bytearray()
    try:
        for piece in _body(response, settings, deadline, cancel, read_timeout):
            body += piece
            if len(body) >= ERROR_BODY_LIMIT:
                break
    except (NetworkError, ProtocolError):
        pass  # the status alone still tells what happened
    return bytes(body[:ERROR_BODY_LIMIT])


def retry_after(headers: dict[str, str]) -> float | None:
    # LiteLLM renames the upstream's Retry-After to llm_provider-retry-after.
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0), ("llm_provider-retry-after-ms", 0.001),
                        ("llm_provider-retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue  # an HTTP date: treated as no hint
    return None


def _connect_error(exc: BaseException, settings: Settings, what: str = "the relay",
                   read_timeout: float | None = None) -> NetworkError:
    fix = "check IMAGE_RELAY_BASE_URL and the network" if what == "the relay" else "the relay's file host may be down"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RequestTimeout(f"Could not connect to {what} within {settings.connect_timeout:g} s; {fix}.",
                              code="connect_timeout")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        waited = read_timeout if read_timeout is not None else settings.idle_timeout
        return RequestTimeout(f"{what[0].upper()}{what[1:]} sent nothing for {waited:g} s after the request; it may "
                              "be buffering the whole answer until the image is done. Raise IMAGE_RELAY_IDLE_TIMEOUT "
                              "for slow relays.", code="idle_timeout")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema |
                  requests.exceptions.InvalidSchema):
        if what != "the relay":
            return link_refused("is not a valid http(s) link")
        return NetworkError("IMAGE_RELAY_BASE_URL is not a valid http(s) URL.", code="invalid_url", retryable=False)
    text = repr(exc)
    if "RemoteDisconnected" in text or "without response" in text or "BadStatusLine" in text:
        return NetworkError(f"{what[0].upper()}{what[1:]} accepted the connection, then closed it without answering; "
                            "it may have crashed or refused the request. Try again later.",
                            code="connection_closed", retryable=False)
    refused = "refused" in text.lower() or "NameResolution" in text or "getaddrinfo" in text.lower()
    return NetworkError(f"Cannot reach {what}: {'connection refused or host not found' if refused else 'the connection failed'}; "
                        f"{fix}.", code="cannot_connect", retryable=refused)


def _deadline_error(settings: Settings) -> RequestTimeout:
    return RequestTimeout(f"The job passed its total time limit of {settings.total_timeout:g} s; raise "
                          "IMAGE_RELAY_TIMEOUT or --timeout for slow relays.", code="deadline")


def _stream_error(exc: BaseException, read_timeout: float, what: str = "the relay") -> NetworkError:
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return RequestTimeout(f"{what[0].upper()}{what[1:]} stopped sending: no bytes for {read_timeout:g} s. Raise "
                              "IMAGE_RELAY_IDLE_TIMEOUT if this relay goes quiet for long.", code="idle_timeout")
    return NetworkError(f"The connection to {what} broke while the answer was arriving.", code="connection_broken")


@dataclass(frozen=True)
class ProbeAnswer:
    status: int | None  # None when the relay could not be reached
    content_type: str
    body: bytes
    problem: str | None = None


def probe(settings: Settings, method: str, path: str, *, json: dict | None = None,
          files: list[tuple[str, tuple[str, bytes, str]]] | None = None, base: str | None = None,
          key_header: str = BEARER) -> ProbeAnswer:
    """One small request whose answer is only inspected (doctor); never raises for HTTP errors.
    ``base``: another API prefix than the relay's base (Gemini's)."""
    timeout = min(settings.idle_timeout, settings.total_timeout, 30.0)
    deadline, cancel = time.monotonic() + timeout, CancelToken()
    reset = _ACTIVE_TOKEN.set(cancel)
    try:
        with watchdog(cancel, deadline), _session() as session, session.request(
                method, f"{base or settings.base_url}{path}", headers=_headers(settings, "application/json", False,
                                                                             key_header),
                json=json, files=files, stream=True, allow_redirects=False,
                timeout=(min(settings.connect_timeout, timeout), timeout)) as response:
            return ProbeAnswer(response.status_code, response.headers.get("Content-Type", ""),
                               _read_capped(response, settings, deadline, cancel, timeout))
    except Exception as exc:  # translated below; the text of foreign errors carries the URL
        problem = _deadline_error(settings).message if cancel.expired else _connect_error(exc, settings).message
        return ProbeAnswer(None, "", b"", problem=problem)
    finally:
        _ACTIVE_TOKEN.reset(reset)

"""A private line between a server and a process it had started, whoever started it.

A job's worker may be started by the server itself or, on Windows, by a process outside the
client's job object (the desktop shell, WMI), which gives it no pipe to its server. So the worker
calls back: the server listens on a loopback port for one caller, and the worker's command line
carries the port and a one-time key. Before anything else is said, each side proves it holds the
key (HMAC-SHA256 over the other side's fresh nonce, the worker's pid included), so the order,
which holds the API key, only reaches the process the server started, and the worker only takes
orders from its own server. Nothing touches the disk, and the key is worth nothing once used.

The line then stays open: the server sends ``cancel`` over it, and its end (the server is gone,
whatever ended it) is what the worker sees, as it saw its stdin close before.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import struct
import time
from collections.abc import Callable, Iterator

_HELLO = b"image-relay-bridge worker 1\n"
_NONCE = 32
_MAC = hashlib.sha256().digest_size
MAX_LINE = 16 * 1024 * 1024  # an order is a few KiB; anything near this is not one
HANDSHAKE_SECONDS = 5.0


class Line:
    """One authenticated connection, read and written as lines of bytes."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock, self.pid = sock, pid
        self._buffer = b""

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False  # the other side is gone; whoever follows it finds out

    def readline(self) -> bytes | None:
        """The next line (with its newline), or None at the end or past MAX_LINE."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                return None
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def lines(self) -> Iterator[bytes]:
        while (line := self.readline()) is not None:
            yield line

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Listener:
    """The server's side: one port, one key, for one worker."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._sock.getsockname()[1]

    def args(self) -> list[str]:
        """What the worker's command line carries to call back."""
        return [self.address, self.key.hex()]

    def accept(self, seconds: float, alive: Callable[[], bool] | None = None) -> Line | None:
        """The first caller that proves it holds the key, within ``seconds``; others are hung up
        on. None when nobody did, or as soon as ``alive`` says the started process has ended."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._sock.settimeout(min(left, 0.25))
            try:
                sock, _ = self._sock.accept()
            except socket.timeout:
                if alive is not None and not alive():
                    return None
                continue
            except OSError:
                return None
            line = _greet(sock, self.key)
            if line is not None:
                return line
        return None

    def close(self) -> None:
        self._sock.close()


def connect(address: str, key_hex: str) -> Line:
    """The worker's side: call the server back and check it is the one that holds the key."""
    host, _, port = address.rpartition(":")
    key = bytes.fromhex(key_hex)
    sock = socket.create_connection((host, int(port)), timeout=HANDSHAKE_SECONDS)
    try:
        hello = _exactly(sock, len(_HELLO) + _NONCE)
        if not hello.startswith(_HELLO):
            raise OSError("not an image-relay-bridge server")
        theirs, ours = hello[len(_HELLO):], secrets.token_bytes(_NONCE)
        pid = struct.pack(">I", os.getpid())
        sock.sendall(ours + pid + _mac(key, b"worker", theirs, ours, pid))
        if not hmac.compare_digest(_exactly(sock, _MAC), _mac(key, b"server", ours, theirs)):
            raise OSError("the server did not prove it holds the key")
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return Line(sock, os.getpid())


def _greet(sock: socket.socket, key: bytes) -> Line | None:
    try:
        sock.settimeout(HANDSHAKE_SECONDS)
        ours = secrets.token_bytes(_NONCE)
        sock.sendall(_HELLO + ours)
        answer = _exactly(sock, _NONCE + 4 + _MAC)
        theirs, pid, mac = answer[:_NONCE], answer[_NONCE:_NONCE + 4], answer[_NONCE + 4:]
        if not hmac.compare_digest(mac, _mac(key, b"worker", ours, theirs, pid)):
            raise OSError("the caller does not hold the key")
        sock.sendall(_mac(key, b"server", theirs, ours))
        sock.settimeout(None)
        return Line(sock, struct.unpack(">I", pid)[0])
    except OSError:
        sock.close()
        return None


def _mac(key: bytes, who: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"|".join((who, *parts)), hashlib.sha256).digest()


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the line closed during the handshake")
        data += chunk
    return data

"""Which image links a relay may make the bridge fetch. Pure but for one DNS look-up.

Only http(s), never with credentials in the link, and never to a loopback, link-local or
private address unless the relay itself is on one: a relay's answer must not turn the bridge
into a way to read the user's local services. On a shared server (its remote callers' jobs,
``Settings.shared``) private addresses are refused even for a private relay: the server must not
be a way into its own network.

A link that fails once the image is made (expired, 403/404/410, an error where the image should be)
is an error that says the image was billed and keeps the link, so the user can still fetch it. Names are judged by the address the connection
really reached (``PeerGuard``, checked by the transport after connect), so DNS cannot slip a
private address past the rule; redirects are checked again, hop by hop.
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
from urllib.parse import urlsplit

from ..errors import BridgeError, Cancelled, ProtocolError, RelayFailure, StorageError

EXPIRED_STATUSES = (401, 403, 404, 410)
_XML_CODE = re.compile(rb"<Code>\s*([^<]{1,80})</Code>", re.I)
_XML_MESSAGE = re.compile(rb"<Message>\s*([^<]{1,200})</Message>", re.I)


class PeerGuard:
    """Checks the address an image link really connected to (after DNS), so a hostname that
    resolves to a private address is caught as surely as a literal one."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.refused = False

    def allows(self, address: str) -> bool:
        return self.allow_private or is_public(address)


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_link(url: str, guard: PeerGuard) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise link_refused("is not an http(s) link")
    if parts.username or parts.password:
        raise link_refused("carries credentials")
    if not parts.hostname:
        raise link_refused("has no host")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if (literal is not None or parts.hostname.lower() == "localhost") and \
            not guard.allows(str(literal or "127.0.0.1")):
        raise link_refused("points at a private or local network address")


def private_allowed(base_url: str | None, shared: bool) -> bool:
    """Links may reach private addresses only for a private relay, and never on a shared server."""
    return not shared and relay_is_private(base_url)


def error_in_body(data: bytes) -> str | None:
    """What a file host says instead of the image (a JSON error under an image content type, an
    XML error of an object store), or None when the bytes are not such an error."""
    head = data.lstrip()[:1]
    if head == b"{":
        try:
            body = json.loads(data)
        except ValueError:
            return None
        error = body.get("error") if isinstance(body, dict) else None
        message = (error.get("message") if isinstance(error, dict) else error) or \
            (body.get("message") if isinstance(body, dict) else None)
        return str(message or "an error in JSON")[:200]
    if head == b"<":
        code, message = _XML_CODE.search(data[:4096]), _XML_MESSAGE.search(data[:4096])
        if code or message:
            return " ".join(m.group(1).decode("utf-8", "replace").strip() for m in (code, message) if m)
    return None


def billed(error: BridgeError, url: str) -> BridgeError:
    """A linked final image that could not be fetched or checked: the relay made it and billed it, so
    the error says so and carries the link (never the key: the link was fetched without it)."""
    if error.code == "unsafe_link":
        error.message += " The relay made the image (it is billed), but the bridge will not follow that link."
        return error
    if isinstance(error, (Cancelled, StorageError)) or error.code == "deadline":
        error.links.append(url)
        error.message += (" The relay had already made the image (it is billed): fetch it from the link in the "
                          "result's error.image_urls before it expires.")
        return error
    expired = error.status_code in EXPIRED_STATUSES or "expire" in error.message.lower()
    result = RelayFailure(f"The relay made the image (it is billed), but fetching it from the link it returned failed: "
                          f"{error.message} Fetch it yourself from the link in the result's error.image_urls, soon "
                          "(such links expire); it was not generated again.",
                          code="link_expired" if expired else "link_failed", status_code=error.status_code)
    result.links.append(url)
    return result


def link_refused(why: str) -> ProtocolError:
    return ProtocolError(f"The image link the relay returned {why}, so the bridge did not fetch it.",
                         code="unsafe_link")


def relay_is_private(base_url: str | None) -> bool:
    """True when the relay itself is on a loopback, link-local or private address."""
    host = urlsplit(base_url or "").hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return not is_public(str(ipaddress.ip_address(host)))
    except ValueError:
        pass
    try:
        return any(not is_public(info[4][0]) for info in socket.getaddrinfo(host, None))
    except OSError:
        return False

"""Which image links a relay may make the bridge fetch. Pure but for one DNS look-up.

Only http(s), never with credentials in the link, and never to a loopback, link-local or
private address unless the relay itself is on one: a relay's answer must not turn the bridge
into a way to read the user's local services. Names are judged by the address the connection
really reached (``PeerGuard``, checked by the transport after connect), so DNS cannot slip a
private address past the rule; redirects are checked again, hop by hop.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import ProtocolError


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

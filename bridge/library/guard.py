"""What every request to the library must pass before anything else runs (SPEC §10).

Host must be the library's own loopback name and port (else 421: DNS rebinding); an Origin, when a
browser sends one, must be the library's own (else 403: another site's page); the request must
carry the token the printed URL gave, which the first visit turns into a same-site, script-proof
cookie (else 403); and a request that changes anything must also carry the CSRF token the page
was served with, in a header no other site's page can set.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import CookieError, SimpleCookie

from ..i18n import N_

HOSTS = ("127.0.0.1", "localhost", "[::1]")


class Guard:
    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.csrf = hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()
        self.cookie_name = f"image_relay_library_{port}"  # cookies ignore ports: one name per library
        self.hosts = {f"{name}:{port}" for name in HOSTS}
        self.origins = {f"http://{host}" for host in self.hosts}

    def refusal(self, method: str, headers, query_token: str | None = None) -> tuple[int, str] | None:
        """(status, reason) when the request must be refused, else None."""
        if (headers.get("Host") or "").lower() not in self.hosts:
            return 421, N_("This library is not reachable under that host name.")
        origin = headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in self.origins:
            return 403, N_("Requests from other sites are not allowed.")
        if not (self.has_token(query_token) or self.has_token(self.cookie(headers))):
            return 403, N_("This library needs its key: open the link image-relay-library printed, or run "
                           "image-relay-library again: it opens the page with its key.")
        if method not in ("GET", "HEAD") and not self._csrf_ok(headers):
            return 403, N_("This action needs the page's own token; reload the page.")
        return None

    def has_token(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode(), self.token.encode())

    def cookie(self, headers) -> str | None:
        jar = SimpleCookie()
        try:
            jar.load(headers.get("Cookie") or "")
        except CookieError:
            return None
        morsel = jar.get(self.cookie_name)
        return morsel.value if morsel else None

    def set_cookie(self) -> str:
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"

    def _csrf_ok(self, headers) -> bool:
        sent = headers.get("X-CSRF-Token") or ""
        fetched = headers.get("Sec-Fetch-Site")
        if fetched is not None and fetched != "same-origin":
            return False
        return hmac.compare_digest(sent.encode(), self.csrf.encode())


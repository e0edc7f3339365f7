"""Who is calling a shared server: bearer tokens from the token store, or an OAuth provider's.

Both are the SDK's ``TokenVerifier``s, so its own middleware does the checking and answers every
refusal with a 401 and a standard ``WWW-Authenticate``. The access token a caller sends is only
ever compared or introspected here; it is never passed on to the relay.

OAuth (``--auth oauth``): this server is a resource server. The SDK serves the RFC 9728
protected-resource metadata naming the issuer; each token is checked by RFC 7662 introspection at
the identity provider (standard library HTTP, bounded in size and time, cached briefly), and is
accepted only when active, issued by that issuer and meant for this server (``aud``).
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import anyio.to_thread
from mcp.server.auth.provider import AccessToken, TokenVerifier

from .tokens import TokenStore

INTROSPECTION_TIMEOUT = 10.0
INTROSPECTION_MAX_BYTES = 64 * 1024
CACHE_SECONDS = 30.0
CACHE_ENTRIES = 1024


class StoredTokens(TokenVerifier):
    """``Authorization: Bearer <token>`` from ``image-relay-mcp token add NAME``; the principal is NAME."""

    def __init__(self, store: TokenStore | None = None) -> None:
        self.store = store or TokenStore()

    async def verify_token(self, token: str) -> AccessToken | None:
        name = self.store.principal(token)
        if name is None:
            return None
        return AccessToken(token="", client_id=name, scopes=[], subject=name, claims={"iss": "token"})


class Introspection(TokenVerifier):
    """RFC 7662 introspection at the identity provider; the principal is the token's ``sub``."""

    def __init__(self, endpoint: str, issuer: str, resource: str, client_id: str = "", client_secret: str = "",
                 scopes: list[str] | None = None) -> None:
        self.endpoint, self.issuer, self.resource = endpoint, issuer.rstrip("/"), resource
        self.client_id, self.client_secret = client_id, client_secret
        self.scopes = scopes or []
        self._cache: dict[str, tuple[float, AccessToken | None]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = await anyio.to_thread.run_sync(self._introspect, token)
        verdict = self._judge(answer) if answer is not None else None
        if answer is not None:  # an unreachable provider is not remembered as a "no"
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.clear()
            self._cache[key] = (now + CACHE_SECONDS, verdict)
        return verdict

    def _introspect(self, token: str) -> dict | None:
        body = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode()
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        if self.client_id:
            pair = f"{urllib.parse.quote(self.client_id)}:{urllib.parse.quote(self.client_secret)}"
            request.add_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode("ascii"))
        try:
            with urllib.request.urlopen(request, timeout=INTROSPECTION_TIMEOUT) as reply:
                data = reply.read(INTROSPECTION_MAX_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        if len(data) > INTROSPECTION_MAX_BYTES:
            return None
        try:
            answer = json.loads(data)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def _judge(self, claims: dict) -> AccessToken | None:
        if claims.get("active") is not True:
            return None
        issuer = claims.get("iss")
        if issuer is not None and str(issuer).rstrip("/") != self.issuer:
            return None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a.rstrip("/") == self.resource.rstrip("/") for a in audiences):
            return None  # a token for another service is never good here
        expires = claims.get("exp")
        if isinstance(expires, (int, float)) and expires < time.time():
            return None
        subject = claims.get("sub") or claims.get("client_id")
        if not isinstance(subject, str) or not subject:
            return None
        scopes = str(claims.get("scope") or "").split()
        if any(s not in scopes for s in self.scopes):
            return None
        return AccessToken(token="", client_id=str(claims.get("client_id") or subject), scopes=scopes,
                           expires_at=int(expires) if isinstance(expires, (int, float)) else None,
                           resource=self.resource, subject=subject, claims={"iss": self.issuer})


def owner_of(access_token) -> str | None:
    """The isolation key of an SDK AccessToken (None: no principal)."""
    if access_token is None or not access_token.subject:
        return None
    issuer = (access_token.claims or {}).get("iss")
    if issuer == "token":  # StoredTokens: the subject is the token's NAME, a safe folder name
        return "t-" + access_token.subject
    return "o-" + hashlib.sha256(f"{issuer}\n{access_token.subject}".encode()).hexdigest()[:24]


def owner_of_user(user) -> str | None:
    return owner_of(getattr(user, "access_token", None))

"""The MCP server over streamable HTTP, safe by default.

The SDK checks Host and Origin only when bound to a loopback name, and nothing else; here every
request, on every route, must name an allowed host and come from no browser or an allowed origin
(DNS rebinding, cross-site calls). Off loopback the server will not start without authentication
(``auth``) and an explicit ``--allow-host`` list. Browser hosts named with ``--allow-origin`` get
CORS (preflight answered, ``Mcp-Session-Id`` exposed). Caller isolation and file rules live in
``callers``; image downloads in ``downloads``.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MAX_BODY_BYTES = 48 * 1024 * 1024  # images arrive base64 in the call (see callers.UPLOAD_MAX_BYTES)
CORS_HEADERS = ["Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID"]
CORS_EXPOSED = ["Mcp-Session-Id", "Mcp-Protocol-Version", "WWW-Authenticate"]


@dataclass
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    auth: str | None = None  # none | token | oauth; None: token off loopback, none on it
    allow_hosts: list[str] = field(default_factory=list)
    allow_origins: list[str] = field(default_factory=list)
    public_url: str | None = None
    oauth_issuer: str | None = None
    oauth_introspection_url: str | None = None
    oauth_scopes: list[str] = field(default_factory=list)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def auth_mode(self) -> str:
        return self.auth or ("none" if self.loopback else "token")

    @property
    def resource_url(self) -> str:
        """This server's MCP endpoint as callers reach it: the audience OAuth tokens must carry."""
        return (self.public_url or "").rstrip("/") + "/mcp"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("shared server (streamable-http)")
    group.add_argument("--auth", choices=("none", "token", "oauth"),
                       help="token: bearer tokens from 'image-relay-mcp token add' (the default off loopback); "
                            "oauth: tokens of your identity provider; none: loopback only")
    group.add_argument("--allow-host", action="append", default=[], metavar="NAME[:PORT]",
                       help="a Host name clients use to reach the server (repeatable; required off loopback)")
    group.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="a browser origin allowed to call, e.g. https://claude.ai (repeatable; answered with CORS)")
    group.add_argument("--public-url", metavar="URL",
                       help="the server's address as callers see it (https://images.example.com behind a proxy); "
                            "download links and the OAuth resource use it")
    group.add_argument("--oauth-issuer", metavar="URL", help="--auth oauth: the identity provider's issuer")
    group.add_argument("--oauth-introspection-url", metavar="URL",
                       help="--auth oauth: its RFC 7662 introspection endpoint (client id and secret in "
                            "IMAGE_RELAY_MCP_OAUTH_CLIENT_ID / IMAGE_RELAY_MCP_OAUTH_CLIENT_SECRET)")
    group.add_argument("--oauth-scope", action="append", default=[], metavar="SCOPE",
                       help="--auth oauth: a scope every token must carry (repeatable)")


def options_from(args: argparse.Namespace) -> HttpOptions:
    return HttpOptions(host=args.host, port=args.port, auth=args.auth, allow_hosts=list(args.allow_host),
                       allow_origins=[o.rstrip("/").lower() for o in args.allow_origin],
                       public_url=args.public_url.rstrip("/") if args.public_url else None,
                       oauth_issuer=args.oauth_issuer, oauth_introspection_url=args.oauth_introspection_url,
                       oauth_scopes=list(args.oauth_scope))


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(options: HttpOptions) -> str | None:
    """Why the server must not start with these options, else None: one line that names every
    missing piece at once, with the commands that supply it (fixing one should never reveal another)."""
    mode = options.auth_mode
    missing: list[str] = []
    if not options.loopback and not options.allow_hosts:
        missing.append("the host names clients use to reach it: --allow-host NAME[:PORT] (repeatable)")
    if not options.loopback and mode == "none":
        missing.append("authentication: --auth token with a token from 'image-relay-mcp token add NAME', or "
                       "--auth oauth with --oauth-issuer, --oauth-introspection-url and --public-url")
    elif mode == "token" and not _has_tokens():
        missing.append("a token for each caller: run 'image-relay-mcp token add NAME' first (or choose --auth oauth "
                       "with --oauth-issuer, --oauth-introspection-url and --public-url)")
    elif mode == "oauth" and not (options.oauth_issuer and options.oauth_introspection_url and options.public_url):
        absent = [flag for flag, value in (("--oauth-issuer", options.oauth_issuer),
                                           ("--oauth-introspection-url", options.oauth_introspection_url),
                                           ("--public-url", options.public_url)) if not value]
        missing.append(f"what --auth oauth needs: {', '.join(absent)} (the address tokens are issued for)")
    for origin in options.allow_origins:
        parsed = urlparse(origin)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path:
            missing.append(f"--allow-origin {origin} written as an origin, scheme://host[:port] (e.g. https://claude.ai)")
    if not missing:
        return None
    where = (f"--host {options.host} is reachable from other machines, so it" if not options.loopback
             else "The server")
    return f"{where} needs " + "; and ".join(missing) + "."


def _has_tokens() -> bool:
    from .tokens import TokenStore
    return bool(TokenStore().entries())


# -- Host and Origin --------------------------------------------------------------------------

def allowed_hosts(options: HttpOptions) -> list[str]:
    port = str(options.port)
    names = [f"{name}:{port}" for name in LOOPBACK_NAMES]
    if options.loopback:
        bound = f"[{options.host.strip('[]')}]" if ":" in options.host else options.host
        names.append(f"{bound}:{port}")
    names += options.allow_hosts
    if options.public_url:
        names.append(urlparse(options.public_url).netloc)
    return [n.lower() for n in names]


def host_allowed(host: str | None, allowed: list[str]) -> bool:
    """``NAME`` allows that name on any port; ``NAME:PORT`` that port only."""
    if not host:
        return False
    host = host.lower()
    if host in allowed:
        return True
    name, sep, _ = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    return bool(sep) and name in allowed


def origin_allowed(origin: str | None, host: str, allowed_origins: list[str]) -> bool:
    """No Origin (not a browser) passes; a browser must be one named, or this server's own page."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in allowed_origins:
        return True
    parsed = urlparse(origin)
    return parsed.scheme in ("http", "https") and parsed.netloc == host.lower()


class HostGuard:
    """ASGI middleware: 421 for a Host not allowed, 403 for a foreign Origin, before anything else."""

    def __init__(self, app, hosts: list[str], origins: list[str]) -> None:
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host")
        if not host_allowed(host, self.hosts):
            await _plain(send, 421, "This server is not reachable under that host name.")
            return
        if not origin_allowed(headers.get("origin"), host, self.origins):
            await _plain(send, 403, "Requests from this origin are not allowed.")
            return
        await self.app(scope, receive, send)


async def _plain(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# -- the app ------------------------------------------------------------------------------------

def build_app(server, options: HttpOptions):
    """The SDK's streamable HTTP app with our auth and routes, inside the Host/Origin guard and CORS."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.middleware.cors import CORSMiddleware

    from . import callers, downloads

    mode = options.auth_mode
    if mode == "token":
        from .auth import StoredTokens
        # The SDK installs its bearer middleware only with AuthSettings, whose issuer is required; with
        # no resource URL it serves no OAuth metadata, so this issuer is never published.
        server.settings.auth = AuthSettings(issuer_url="http://localhost/", resource_server_url=None)
        server._token_verifier = StoredTokens()  # the SDK takes a verifier only at construction
    elif mode == "oauth":
        from .auth import Introspection
        server.settings.auth = AuthSettings(issuer_url=options.oauth_issuer, resource_server_url=options.resource_url,
                                            required_scopes=options.oauth_scopes or None, validate_token_resource=True)
        server._token_verifier = Introspection(
            options.oauth_introspection_url, options.oauth_issuer, options.resource_url,
            os.environ.get("IMAGE_RELAY_MCP_OAUTH_CLIENT_ID", ""), os.environ.get("IMAGE_RELAY_MCP_OAUTH_CLIENT_SECRET", ""),
            options.oauth_scopes)
    callers.PUBLIC_URL[:] = [options.public_url] if options.public_url else []
    if mode == "oauth":
        from mcp.server.auth.routes import build_resource_metadata_url
        downloads.RESOURCE_METADATA_URL[:] = [str(build_resource_metadata_url(server.settings.auth.resource_server_url))]
    if not any(getattr(r, "path", None) == downloads.ROUTE for r in server._custom_starlette_routes):
        server.custom_route(downloads.ROUTE, methods=["GET", "HEAD"])(downloads.serve)
        from . import caller_history
        server.custom_route(caller_history.ROUTE, methods=["GET"])(caller_history.serve)  # a caller's own history
    # The guard below checks Host and Origin on every route; the SDK's own check covers /mcp only.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = server.streamable_http_app(host=options.host, transport_security=security,
                                     max_request_body_size=MAX_BODY_BYTES)
    if options.allow_origins:
        app = CORSMiddleware(app, allow_origins=options.allow_origins, allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                             allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSED, max_age=600)
    return HostGuard(app, allowed_hosts(options), options.allow_origins)


def serve(server, options: HttpOptions) -> None:
    import anyio
    import uvicorn

    app = build_app(server, options)
    config = uvicorn.Config(app, host=options.host.strip("[]"), port=options.port, log_level="info")
    anyio.run(uvicorn.Server(config).serve)

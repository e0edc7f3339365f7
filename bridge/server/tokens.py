"""Bearer tokens for a shared server: ``image-relay-mcp token add|list|remove``. No MCP here.

A token is shown once, when it is made; the store keeps only its SHA-256 (a token is 256 random
bits, so a fast hash is enough: there is nothing to guess). The store is read again whenever it
changes on disk, so ``token remove`` shuts a caller out of a running server at once.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
from pathlib import Path

from ..paths import user_state_dir

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PREFIX = "irb_"


def store_path() -> Path:
    return user_state_dir() / "tokens.json"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    """Names and token hashes in one JSON file (0600), replaced atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_path()
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._entries: dict[str, dict] = {}

    def entries(self) -> dict[str, dict]:
        with self._lock:
            try:
                stat = self.path.stat()
                mark = (stat.st_mtime, stat.st_size)
            except OSError:
                self._seen, self._entries = None, {}
                return {}
            if mark != self._seen:
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    data = {}
                tokens = data.get("tokens") if isinstance(data, dict) else None
                self._entries = {k: v for k, v in (tokens or {}).items()
                                 if isinstance(v, dict) and isinstance(v.get("sha256"), str)}
                self._seen = mark
            return dict(self._entries)

    def principal(self, token: str) -> str | None:
        """The name whose token this is, else None; every stored hash is compared, in constant time."""
        presented = _digest(token)
        found = None
        for name, entry in self.entries().items():
            if hmac.compare_digest(presented, entry["sha256"]):
                found = name
        return found

    def add(self, name: str) -> str:
        if not NAME.match(name):
            raise ValueError(f"The token name {name!r} must be 1-64 letters, digits, dots, dashes or underscores.")
        entries = self.entries()
        if name in entries:
            raise ValueError(f"A token named {name} exists already; remove it first to replace it.")
        token = PREFIX + secrets.token_urlsafe(32)
        entries[name] = {"sha256": _digest(token), "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        self._save(entries)
        return token

    def remove(self, name: str) -> None:
        entries = self.entries()
        if name not in entries:
            raise ValueError(f"There is no token named {name!r}.")
        del entries[name]
        self._save(entries)

    def _save(self, entries: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".tokens.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"tokens": entries}, out, indent=1)
        os.replace(tmp, self.path)
        with self._lock:
            self._seen = None


def command(args: list[str]) -> int:
    """``image-relay-mcp token add NAME | list | remove NAME``; exit 2 on a wrong name or usage."""
    store = TokenStore()
    action, rest = (args[0], args[1:]) if args else ("", [])
    try:
        if action == "add" and len(rest) == 1:
            token = store.add(rest[0])
            print(token)
            print(f"Token for {rest[0]} saved (only its hash is kept; this is the only time it is shown). "
                  "Clients send it as the header  Authorization: Bearer <token>", file=sys.stderr)
            return 0
        if action == "list" and not rest:
            entries = store.entries()
            for name, entry in sorted(entries.items()):
                print(f"{name}\t{entry.get('created', '')}")
            if not entries:
                print("No tokens yet; add one with: image-relay-mcp token add NAME", file=sys.stderr)
            return 0
        if action == "remove" and len(rest) == 1:
            store.remove(rest[0])
            print(f"Token {rest[0]} removed; its holder is refused from now on.", file=sys.stderr)
            return 0
    except ValueError as error:
        print(f"image-relay-mcp token: {error}", file=sys.stderr)
        return 2
    print("usage: image-relay-mcp token add NAME | token list | token remove NAME", file=sys.stderr)
    return 2

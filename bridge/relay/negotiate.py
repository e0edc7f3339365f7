"""Parameters a relay turned out not to accept, and the route of a mode it serves, remembered per relay.

On a 400 naming an unsupported parameter the bridge drops it and retries once; the user cache
remembers the answer so the next call does not pay the round trip. A relay without
``/images/generations`` that serves OpenRouter's ``/images`` is remembered the same way
(``Routes``). Relays are keyed by a hash of their address, so the cache never holds the address
itself.
"""
from __future__ import annotations

import hashlib
import json
import os
import re

from ..errors import BridgeError
from ..paths import user_cache_dir
from ..system.files import replace

DROPPABLE = frozenset({"size", "quality", "background", "output_format", "output_compression", "moderation",
                       "input_fidelity", "partial_images", "negative_prompt", "seed", "n", "action",
                       "previous_response_id",
                       # chat and Gemini: where the aspect ratio and resolution go, and the output modalities
                       "extra_body", "image_config", "modalities", "imageConfig", "imageSize", "aspectRatio",
                       # the Images API: an async request, and the ratio fields of other vendors' models
                       "async", "aspect_ratio", "image_size", "resolution", "ratio"})
_UNKNOWN = re.compile(r"(?:unknown|unrecognized|unsupported|unexpected)\s+(?:parameter|field|argument|name)s?:?\s*"
                      r"['\"`]?([A-Za-z_\[\]0-9.]+)", re.I)


def previous_response_refused(error: BridgeError, sent: set[str]) -> bool:
    """A relay that cannot continue from an earlier response: it does not know the id (another
    channel, expired, never stored) or the field; the image is then uploaded instead."""
    if "previous_response_id" not in sent or error.stream_started or error.status_code not in (400, 404, 422):
        return False
    return error.param == "previous_response_id" or re.search(r"previous[ _]response", error.message, re.I) is not None


def unsupported_parameter(error: BridgeError, sent: set[str]) -> str | None:
    """The optional parameter a 400 says the relay does not accept, if it is one we sent."""
    if error.status_code != 400:
        return None
    names = []
    match = _UNKNOWN.search(error.message)
    if match:
        names.append(match.group(1))
    if error.param and "unknown" in error.message.lower():
        names.append(error.param)
    for name in names:
        leaf = name.split(".")[-1]
        if leaf in DROPPABLE and leaf in sent:
            return leaf
    return None


class Memory:
    def __init__(self, base_url: str, model: str, environ: dict | None = None) -> None:
        self.path = user_cache_dir(environ or os.environ) / "unsupported-parameters.json"
        self.key = hashlib.sha256(f"{base_url}\n{model}".encode()).hexdigest()[:24]

    def load(self) -> frozenset[str]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return frozenset(p for p in data.get(self.key, []) if p in DROPPABLE)
        except (OSError, ValueError, AttributeError):
            return frozenset()

    def remember(self, names: frozenset[str]) -> None:
        try:
            data = json.loads(self.path.read_text("utf-8")) if self.path.is_file() else {}
        except (OSError, ValueError):
            data = {}
        data[self.key] = sorted(names)
        _write(self.path, data)


def _write(path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), "utf-8")
        replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs a round trip next time




def relay_key(base_url: str | None) -> str:
    """A relay's name in caches and job records: a hash of its address, never the address."""
    return hashlib.sha256(f"relay\n{base_url or ''}".encode()).hexdigest()[:24]


class Routes:
    """The route of an API mode that worked on a relay (``styles.ROUTES``): tried first next time."""

    def __init__(self, base_url: str | None, mode: str, environ: dict | None = None) -> None:
        self.path = user_cache_dir(environ or os.environ) / "relay-routes.json"
        self.key = f"{relay_key(base_url)}:{mode}"

    def load(self) -> str | None:
        try:
            value = json.loads(self.path.read_text("utf-8")).get(self.key)
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def remember(self, route: str) -> None:
        try:
            data = json.loads(self.path.read_text("utf-8")) if self.path.is_file() else {}
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[self.key] = route
        _write(self.path, data)

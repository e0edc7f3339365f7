"""IMAGE_RELAY_EXTRA_BODY (``--extra-body``): the user's vendor fields, merged into every request body.

For fields the bridge does not know (``watermark: false``, ``sequential_image_generation``, a
relay's own switches). The user's value wins over the bridge's for any other field, and objects
merge key by key (``{"generationConfig": {"temperature": 0.4}}`` keeps the bridge's image config);
the prompt, the model and the input images can never be replaced (``config.PROTECTED_BODY_KEYS``,
refused before anything is sent). Multipart bodies get each field as a form field (JSON for what
is not a string). Requests without a body (a task's ``GET``) get nothing. Pure.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from .call import HttpCall


def merged(call: HttpCall, extra: Mapping[str, object]) -> HttpCall:
    if not extra or call.method == "GET":
        return call
    if call.json is not None:
        return replace(call, json=_merge(call.json, extra))
    fields = [(name, value) for name, value in call.fields if name not in extra]
    fields += [(name, value if isinstance(value, str) else json.dumps(value)) for name, value in extra.items()]
    return replace(call, fields=fields)


def _merge(body: dict, extra: Mapping[str, object]) -> dict:
    out = dict(body)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out

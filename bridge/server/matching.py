"""What makes two generate_image calls the same: a key over the prompt, every parameter (as the
configuration resolves it), where the images go, and the content of the input images and mask.

A client that re-sends a call it gave up on (Qwen Code restarts its server and sends the call
again after a timeout) gets the job the first call started instead of a second, billed one.
Files are matched by content, so a re-sent edit of a file that changed since is a new job.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

# Settings that decide what the relay is asked for, beside the call's own arguments.
_SETTINGS = ("api_mode", "text_model", "image_model", "request_policy", "size", "aspect_ratio", "resolution",
             "quality", "output_format", "background", "output_compression", "partial_images", "prompt_template",
             "negative_prompt", "output_dir")
_CHUNK = 1 << 20


def call_key(request, settings, owner: str) -> str:
    """A hex digest; equal for calls that would ask the relay for the same thing, for the same owner."""
    fields = asdict(request)
    fields["image_paths"] = [_content(p) for p in request.image_paths]
    fields["mask_path"] = _content(request.mask_path) if request.mask_path else None
    fields["settings"] = {name: getattr(settings, name) for name in _SETTINGS}
    fields["owner"] = owner
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content(path: str) -> str:
    """The file's SHA-256, or its path when it cannot be read (the job then fails as invalid input)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return f"unreadable:{path}"
    return digest.hexdigest()

"""Images a relay writes into a message instead of an image field: one tolerant finder, pure.

Relays that turn an image model into a chat (or Responses) answer put the image where text goes
(``docs/relay-styles.md``, shapes A′, B, B′, G): a content part ``{"type": "image_url", ...}``, a
Markdown image with a ``data:`` URL (new-api's Gemini channel), a bare ``data:`` URL as the whole
content, or a link (a Markdown image, a Markdown link, a plain URL) after progress text, from
relays reselling "reverse" models. The payload extractor has already replaced the base64 of every
data URL by a placeholder (``__irb_payload_N__``), so the text read here is small.

Inline images (placeholders, data URLs) win over links: a message that carries both shows the
image and links to the same picture. A link counts when it is a Markdown image, or when it looks
like an image file (``.png``, ``.jpg``, …) or is labelled as a download.
"""
from __future__ import annotations

import re

from ..payloads import PLACEHOLDER_TEXT

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+")
_INLINE = re.compile(rf"{PLACEHOLDER_TEXT}|{_DATA_URL.pattern}")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\(\s*<?(https?://[^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(\s*<?(https?://[^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"(?<![(<\[\w])https?://[^\s)<>\"'\]]+")
_IMAGE_PATH = re.compile(r"\.(?:png|jpe?g|webp|gif|bmp|avif)$", re.I)
_DOWNLOAD = re.compile(r"download|下载|image|图片|图像|原图|查看|view|open", re.I)
MAX_LINKS = 10


def inline_images(text: str) -> list[str]:
    """Placeholders and data URLs, in order of appearance."""
    return [match.group(0).strip() for match in _INLINE.finditer(text)]


def linked_images(text: str) -> list[str]:
    """http(s) links to images, in order, without repeats (at most MAX_LINKS)."""
    found: list[tuple[int, str]] = [(m.start(), m.group(1)) for m in _MD_IMAGE.finditer(text)]
    for match in _MD_LINK.finditer(text):
        label, url = match.group(1), match.group(2)
        if _looks_like_image(url) or _DOWNLOAD.search(label):
            found.append((match.start(), url))
    for match in _BARE_URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?。，")
        if _looks_like_image(url):
            found.append((match.start(), url))
    links = list(dict.fromkeys(url for _, url in sorted(found)))
    return links[:MAX_LINKS]


def images_in_text(text: str) -> tuple[list[str], bool]:
    """(images, inline): the inline images of ``text`` if it has any, else its image links."""
    inline = inline_images(text)
    return (inline, True) if inline else (linked_images(text), False)


def images_in_parts(parts: list) -> list[str]:
    """Images in a content array: ``image_url`` parts (object or string), ``image`` parts with
    base64 or a URL, and ``output_image`` parts; each as a placeholder, data URL or link."""
    found = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key in ("image_url", "image", "output_image", "url", "b64_json"):
            value = part.get(key)
            if isinstance(value, dict):
                value = value.get("url") or value.get("base64") or value.get("b64_json") or value.get("data")
            if isinstance(value, str) and value and (key not in ("url", "b64_json") or "image" in str(part.get("type"))):
                found.append(value)
                break
    return found


def text_of_parts(parts: list) -> str:
    return "\n".join(str(p.get("text")) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def without_images(text: str) -> str:
    """The words of a message, its image data taken out (for an error that quotes them)."""
    return re.sub(r"\s+", " ", _INLINE.sub("", text)).strip()


def _looks_like_image(url: str) -> bool:
    path = url.split("?", 1)[0].split("#", 1)[0]
    return bool(_IMAGE_PATH.search(path))

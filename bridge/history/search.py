"""Prompt text as the full-text index holds it, and what a person types as an FTS5 query.

SQLite's unicode61 tokenizer splits on spaces and punctuation, so a Chinese or Japanese prompt,
written without spaces, would be one long token that no word of it matches. Each CJK character
is indexed as a token of its own, and a typed CJK word becomes the phrase of its characters:
"狐狸" finds "雪地里的红狐狸". Other words match as prefixes ("fox" finds "foxes").
"""
from __future__ import annotations

import re

_CJK = re.compile("([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff])")
_TOKEN = re.compile(r"[^\W_]+")  # what unicode61 keeps: letters and digits
MAX_TERMS = 12
MAX_QUERY_CHARS = 200


def index_text(*texts: str | None) -> str:
    """What the search index stores for an entry."""
    return _CJK.sub(r" \1 ", " ".join(t for t in texts if t))


def terms(text: str) -> list[list[str]]:
    """The tokens of each whitespace-separated term of a query; empty terms dropped."""
    out = []
    for term in (text or "")[:MAX_QUERY_CHARS].split():
        tokens = _TOKEN.findall(index_text(term))
        if tokens:
            out.append(tokens)
    return out[:MAX_TERMS]


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression: every term must match, each as a phrase whose last token is a prefix."""
    parts = [f'"{" ".join(tokens)}" *' for tokens in terms(text)]
    return " ".join(parts) or None


def like_patterns(text: str) -> list[str]:
    """LIKE patterns (escape character ``\\``) for SQLite without FTS5: every term as a substring."""
    patterns = []
    for term in (text or "")[:MAX_QUERY_CHARS].split()[:MAX_TERMS]:
        patterns.append("%" + re.sub(r"([%_\\])", r"\\\1", term) + "%")
    return patterns

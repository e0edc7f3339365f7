"""Read a finished English message as the catalogue's templates, and write it in another language.

A template is a msgid in ``str.format`` syntax: ``"Saved {path}."``. A message fits it when its
text is the template's words with a value in each ``{field}``; each value may be a message of its
own (a relay's words are not, and stay as they are), and a message may be several messages, one
sentence after another. Where a value ends is chosen, not guessed: of every way the templates fit,
the one whose own words cover most of the text wins, so ``"{label} {raw} does not exist"`` reads
``"Source image /a b.png does not exist"`` with ``label`` "Source image". Pure: no I/O.
"""
from __future__ import annotations

import re
import string
from collections.abc import Mapping


class Template:
    """One msgid: its literal pieces, with a ``{field}`` between each two, and its translation."""

    def __init__(self, msgid: str, msgstr: str) -> None:
        parts = list(string.Formatter().parse(msgid))
        self.fields = [field for _, field, _, _ in parts if field is not None]
        self.pieces = [literal for literal, _, _, _ in parts] + ([""] if parts and parts[-1][1] is not None else [])
        self.pieces[0], self.pieces[-1] = self.pieces[0].lstrip(), self.pieces[-1].rstrip()  # text is matched stripped
        self.literal = sum(map(len, self.pieces))
        self.target = list(string.Formatter().parse(msgstr))

    def fill(self, values: dict[str, str]) -> str:
        return "".join(literal + (values.get(field, "") if field is not None else "")
                       for literal, field, _, _ in self.target)


_BOUNDARY = re.compile(r"(?<=[.;:!?])\s+")
_CJK_END = "。；：！？）"
_SPLITS = 64  # places tried for one value's end; enough for any message, bounded for any text
_LONGEST, _SENTENCES = 2000, 16  # beyond these a text is read whole, never sentence by sentence


class Catalogue:
    def __init__(self, messages: Mapping[str, str]) -> None:
        self.exact: dict[str, str] = {}
        self.templates: list[Template] = []
        for msgid, msgstr in messages.items():
            if not msgid or not msgstr:
                continue  # the header, or a message not yet translated
            template = Template(msgid, msgstr)
            if not template.fields:
                self.exact[msgid.replace("{{", "{").replace("}}", "}").strip()] = template.fill({})
            elif template.literal:
                self.templates.append(template)

    def render(self, text: str, sentences: bool = True) -> str | None:
        """The translation of ``text``, or None when nothing in the catalogue fits it. Of all the ways
        the templates fit a message made of messages, the one whose own words cover most of it wins."""
        found = self._best(text, sentences, {})
        return None if found is None else found[0]

    def _best(self, text: str, sentences: bool, memo: dict) -> tuple[str, int] | None:
        """(translation, how many characters of ``text`` the catalogue's words account for)."""
        key = (text, sentences)
        if key not in memo:
            memo[key] = None  # a message cannot contain itself
            memo[key] = self._fits(text, sentences, memo) if text.strip() else None
        return memo[key]

    def _fits(self, text: str, sentences: bool, memo: dict) -> tuple[str, int] | None:
        core = text.strip()
        if core != text:  # the spaces around a value: kept in English, dropped beside Chinese
            inner = self._best(core, sentences, memo)
            if inner is None:
                return None
            lead = "" if inner[0][:1] > "\x7f" else text[: len(text) - len(text.lstrip())]
            trail = "" if inner[0][-1:] > "\x7f" else text[len(text.rstrip()):]
            return lead + inner[0] + trail, inner[1]
        for exact in (text, text[:1].lower() + text[1:]):  # "The relay ..." begins a sentence with a value
            if exact in self.exact:
                return self.exact[exact], len(text)
        candidates = [self._fill(t, text, memo) for t in self.templates
                      if len(text) >= t.literal and text.startswith(t.pieces[0]) and text.endswith(t.pieces[-1])]
        if sentences and len(text) <= _LONGEST:
            boundaries = list(_BOUNDARY.finditer(text))[:_SENTENCES]
            candidates += [self._sentences(text, boundary, memo) for boundary in boundaries]
        return max((c for c in candidates if c is not None), key=lambda c: c[1], default=None)

    def _fill(self, template: Template, text: str, memo: dict) -> tuple[str, int] | None:
        """The best way to read ``text`` as ``template``: where each value ends is chosen, not guessed."""
        pieces, end = template.pieces, len(text) - len(template.pieces[-1])
        ways: dict[tuple[int, int], tuple[int, list[str]] | None] = {}

        def value(start: int, stop: int) -> tuple[int, str]:
            inner = self._best(text[start:stop], True, memo)
            return (inner[1], inner[0]) if inner else (0, text[start:stop])

        def rest(field: int, start: int) -> tuple[int, list[str]] | None:
            if (field, start) not in ways:
                if field == len(template.fields) - 1:
                    ways[field, start] = None if end < start else (lambda c: (c[0], [c[1]]))(value(start, end))
                else:
                    best, piece, at = None, pieces[field + 1], start
                    for _ in range(_SPLITS):
                        at = text.find(piece, at, end)
                        if at < 0:
                            break
                        after = rest(field + 1, at + len(piece))
                        if after is not None:
                            covered, shown = value(start, at)
                            if best is None or covered + after[0] > best[0]:
                                best = covered + after[0], [shown, *after[1]]
                        at += 1
                    ways[field, start] = best
            return ways[field, start]

        found = rest(0, len(pieces[0]))
        if found is None:
            return None
        values: dict[str, str] = {}
        for field, shown in zip(template.fields, found[1]):
            values.setdefault(field, shown)
        return template.fill(values), template.literal + found[0]

    def _sentences(self, text: str, boundary: re.Match, memo: dict) -> tuple[str, int] | None:
        """A message with a sentence added (or a relay's sentence before one of ours): each on its own."""
        head_text, tail_text = text[: boundary.start()], text[boundary.end():]
        head, tail = self._best(head_text, True, memo), self._best(tail_text, True, memo)
        if head is None and tail is None:
            return None
        shown = head[0] if head else head_text
        joint = "" if shown.endswith(tuple(_CJK_END)) else " "
        return shown + joint + (tail[0] if tail else tail_text), (head[1] if head else 0) + (tail[1] if tail else 0)



"""What each known image model takes: one table, applied before anything is sent.

Sources: the openai-python types and their docstrings (the Responses ``image_generation`` tool and
``ImageEditParams``: sizes, transparent backgrounds, ``input_fidelity``), OpenAI's image generation
guide for gpt-image-2's pixel limits, and OpenAI's own 400 for ``input_fidelity`` on gpt-image-2. The
"Image models" section of docs/relays.md shows the table to users.

Relays rename models, so matching is deliberately narrow: a name is known when, after one or more
leading ``vendor/`` segments (``openai/gpt-image-2``) and a trailing dated snapshot
(``gpt-image-2-2026-04-21``) are set aside, it is exactly a name in the table, case aside. Anything
else (``gpt-image-2-all``, ``gpt-image-2-codex``, ``「CS」gpt-image-2``, ``chatgpt-image-latest``, an
Azure deployment name) is a relay's own model with rules of its own: passed on unchecked.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from ..user_request import Job

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")


@dataclass(frozen=True)
class Sizes:
    """The sizes a model takes: a fixed list, or a rule (``flexible``) with presets to offer."""

    presets: tuple[str, ...]
    flexible: bool = False
    multiple: int = 1
    max_edge: int = 0
    min_pixels: int = 0
    max_pixels: int = 0
    max_ratio: float = 0.0
    experimental_above: int = 0  # pixel count above which the model calls a size experimental

    def problem(self, width: int, height: int) -> str | None:
        """Why ``width`` x ``height`` is not a size of this model, or None when it is."""
        if not self.flexible:
            return None if f"{width}x{height}" in self.presets else f"it takes only {self.describe()}"
        if width % self.multiple or height % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if max(width, height) > self.max_edge:
            return f"the long side can be at most {self.max_edge} px"
        if max(width, height) > self.max_ratio * min(width, height):
            return f"the aspect ratio must be between 1:{self.max_ratio:g} and {self.max_ratio:g}:1"
        if not self.min_pixels <= width * height <= self.max_pixels:
            return f"it must have {self.min_pixels:,} to {self.max_pixels:,} pixels"
        return None

    def nearest(self, width: int, height: int, count: int = 2) -> list[str]:
        """Valid sizes closest to the request: first in shape (aspect ratio), then in area."""
        candidates = list(self.presets) + (sorted(self._snapped(width, height)) if self.flexible else [])
        valid = list(dict.fromkeys(c for c in candidates if self.problem(*_parse(c)) is None))
        ratio = math.log(width / height)

        def distance(size: str) -> tuple[float, int]:
            w, h = _parse(size)
            return round(abs(math.log(w / h) - ratio), 3), abs(w * h - width * height)
        return sorted(valid, key=distance)[:count]

    def _snapped(self, width: int, height: int) -> set[str]:
        """The grid sizes around the request once it is brought inside the ratio, pixel and edge limits."""
        ratio = min(max(width / height, 1 / self.max_ratio), self.max_ratio)
        area = min(max(width * height, self.min_pixels), self.max_pixels)
        w, h = math.sqrt(area * ratio), math.sqrt(area / ratio)
        scale = min(1.0, self.max_edge / max(w, h))
        w, h = w * scale, h * scale
        m = self.multiple
        sides = lambda x: {max(m, (int(x) // m + k) * m) for k in (-1, 0, 1, 2)}  # noqa: E731
        return {f"{a}x{b}" for a in sides(w) for b in sides(h)}

    def describe(self) -> str:
        """The sizes in a sentence, for the tool description and --help."""
        if not self.flexible:
            return f"{', '.join(self.presets)} or auto"
        return (f"any WIDTHxHEIGHT with both sides multiples of {self.multiple}, the long side at most "
                f"{self.max_edge} px, {self.min_pixels:,} to {self.max_pixels:,} pixels and an aspect ratio "
                f"between 1:{self.max_ratio:g} and {self.max_ratio:g}:1 (more pixels than 2560x1440 is experimental), "
                f"e.g. {', '.join(self.presets)}; or auto")


@dataclass(frozen=True)
class ModelRule:
    name: str
    sizes: Sizes
    refuses: tuple[tuple[str, str | None], ...] = ()  # (parameter, value) it rejects; None: any value
    why: str = ""  # what to tell the user about the refused parameters


STANDARD = Sizes(presets=("1024x1024", "1536x1024", "1024x1536"))
FLEXIBLE = Sizes(presets=("1024x1024", "1536x1024", "1024x1536", "2048x1152", "1152x2048", "2560x1440",
                          "1440x2560", "3840x2160", "2160x3840"),
                 flexible=True, multiple=16, max_edge=3840, min_pixels=655_360, max_pixels=3840 * 2160,
                 max_ratio=3.0, experimental_above=2560 * 1440)

# The one table. Names are matched as the module docstring says.
RULES = (
    ModelRule("gpt-image-2", FLEXIBLE, refuses=(("background", "transparent"), ("input_fidelity", None)),
              why="gpt-image-2 has no transparent backgrounds, and it always keeps the source images' detail "
                  "(it takes no input_fidelity)"),
    ModelRule("gpt-image-1.5", STANDARD),
    ModelRule("gpt-image-1", STANDARD),
    ModelRule("gpt-image-1-mini", STANDARD, refuses=(("input_fidelity", None),),
              why="gpt-image-1-mini takes no input_fidelity"),
)
_BY_NAME = {rule.name: rule for rule in RULES}


def rule_for(model: str | None) -> ModelRule | None:
    """The table's rule for a configured model name, or None for a model the bridge does not know."""
    if not model:
        return None
    name = model.strip().lower().rsplit("/", 1)[-1]
    return _BY_NAME.get(_SNAPSHOT.sub("", name))


def size_problem(model: str | None, size: str) -> tuple[str, list[str]] | None:
    """(why, nearest sizes) when a known model cannot take ``size``; None when it can or is unknown."""
    rule = rule_for(model)
    parsed = _parse(size)
    if rule is None or parsed is None:
        return None
    why = rule.sizes.problem(*parsed)
    return None if why is None else (why, rule.sizes.nearest(*parsed))


def refused(model: str | None, params: dict) -> str | None:
    """The first of ``params`` (name -> value) a known model rejects, as ``name`` or ``name=value``."""
    rule = rule_for(model)
    for name, value in rule.refuses if rule else ():
        if params.get(name) is not None and (value is None or params[name] == value):
            return name if value is None else f"{name}={value}"
    return None


def experimental(model: str | None, size: str) -> bool:
    rule = rule_for(model)
    parsed = _parse(size)
    return bool(rule and parsed and rule.sizes.experimental_above
                and parsed[0] * parsed[1] > rule.sizes.experimental_above)


def sizes_text(model: str | None) -> str:
    """One sentence on the sizes the configured model takes."""
    rule = rule_for(model)
    if rule is not None:
        return f"Sizes for the configured image model {model}: {rule.sizes.describe()}."
    if model:
        return (f"The configured image model {model} is not one the bridge knows, so sizes go to the relay "
                "unchecked; 1024x1024, 1536x1024, 1024x1536 and auto suit every GPT image model.")
    return "No image model is configured; 1024x1024, 1536x1024, 1024x1536 and auto suit every GPT image model."


def check(job: Job, model: str | None, *, size_is_default: bool = False) -> list[str]:
    """Raise InputError (exit 2) when a known model cannot take the job; return warnings otherwise."""
    problem = size_problem(model, job.size)
    if problem is not None:
        why, nearest = problem
        origin = " (IMAGE_RELAY_DEFAULT_SIZE)" if size_is_default else ""
        raise InputError(f"Size {job.size}{origin} is not available for {model}: {why}. "
                         f"Nearest: {', '.join(nearest)}.")
    rejected = refused(model, {"background": job.background,
                               "input_fidelity": job.input_fidelity if job.is_edit else None})
    if rejected is not None:
        raise InputError(f"{model} does not take {rejected}: {rule_for(model).why}; leave it out.")
    if experimental(model, job.size):
        return [f"{job.size} has more pixels than 2560x1440, which {model} calls experimental: it may take longer "
                "or come back smaller."]
    return []


def _parse(size: str) -> tuple[int, int] | None:
    match = _SIZE.match(size)
    return (int(match[1]), int(match[2])) if match and int(match[1]) and int(match[2]) else None

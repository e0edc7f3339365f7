"""The sizes a WIDTHxHEIGHT image model takes: a fixed list, or a rule with presets; pure."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
        valid = list(dict.fromkeys(c for c in candidates if self.problem(*parse(c)) is None))
        ratio = math.log(width / height)

        def distance(size: str) -> tuple[float, int]:
            w, h = parse(size)
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


def parse(size: str) -> tuple[int, int] | None:
    match = _SIZE.match(size)
    return (int(match[1]), int(match[2])) if match and int(match[1]) and int(match[2]) else None


STANDARD = Sizes(presets=("1024x1024", "1536x1024", "1024x1536"))
FLEXIBLE = Sizes(presets=("1024x1024", "1536x1024", "1024x1536", "2048x1152", "1152x2048", "2560x1440",
                          "1440x2560", "3840x2160", "2160x3840"),
                 flexible=True, multiple=16, max_edge=3840, min_pixels=655_360, max_pixels=3840 * 2160,
                 max_ratio=3.0, experimental_above=2560 * 1440)

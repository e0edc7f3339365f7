"""Aspect ratios and resolution tiers, and the sizes between them; pure.

Two kinds of image model meet here: those that take a ratio and a tier (Gemini's ``aspectRatio``
and ``imageSize``: ``1K`` is about a megapixel, each tier twice the side of the one before) and
those that take ``WIDTHxHEIGHT`` (the GPT image models, where a tier names the long side: 16:9 at
2K is 2048x1152). A size given to the first kind maps to the nearest ratio and tier; a ratio and
tier given to the second kind map to a size (``models`` then fits it to what the model takes).
"""
from __future__ import annotations

import math

# Side of the square each tier stands for: the area Gemini draws and the long side of a GPT size.
TIER_SIDE = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}


def parse_ratio(ratio: str) -> tuple[int, int]:
    width, _, height = ratio.partition(":")
    return int(width), int(height)


def parse_size(size: str) -> tuple[int, int] | None:
    width, sep, height = size.partition("x")
    return (int(width), int(height)) if sep and width.isdigit() and height.isdigit() else None


def _shape(width: float, height: float) -> float:
    return math.log(width / height)


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...]) -> str:
    """The ratio of ``ratios`` closest in shape to ``width`` x ``height``."""
    return min(ratios, key=lambda r: abs(_shape(*parse_ratio(r)) - _shape(width, height)))


def tier_for(width: int, height: int, ratio: str, tiers: tuple[str, ...]) -> str:
    """The smallest tier of ``tiers`` that draws ``width`` x ``height`` in ``ratio`` without shrinking
    it (a tenth's leeway: 1400x788 is still 1K), else the largest."""
    ordered = sorted(tiers, key=TIER_SIDE.__getitem__)
    for tier in ordered:
        if max(area_size(ratio, tier)) * 1.1 >= max(width, height):
            return tier
    return ordered[-1]


def area_size(ratio: str, tier: str, multiple: int = 16) -> tuple[int, int]:
    """Gemini's way: about the tier's area in the ratio's shape, sides multiples of ``multiple``."""
    rw, rh = parse_ratio(ratio)
    area = TIER_SIDE[tier] ** 2
    width = math.sqrt(area * rw / rh)
    return _snap(width, multiple), _snap(width * rh / rw, multiple)


def long_side_size(ratio: str, tier: str, multiple: int = 16) -> tuple[int, int]:
    """The GPT image models' way: the tier is the long side, the other follows the ratio."""
    rw, rh = parse_ratio(ratio)
    side = TIER_SIDE[tier]
    if rw >= rh:
        return side, _snap(side * rh / rw, multiple)
    return _snap(side * rw / rh, multiple), side


def square_area(ratio: str, multiple: int = 16) -> tuple[int, int]:
    """A size of about 1024x1024 pixels in the ratio's shape, for a ratio given without a tier."""
    return area_size(ratio, "1K", multiple)


def _snap(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)

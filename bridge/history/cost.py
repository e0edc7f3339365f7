"""What a relay said a generation cost, in US dollars, from the ``usage`` it reported; else None.

Relays that report a price put it in usage: OpenRouter as ``cost`` (credits, one a dollar), xAI
as ``cost_in_usd_ticks`` (10^-10 dollars). The Responses API nests an image tool's own usage
under ``tool_usage``. Nothing is estimated: a price table would be wrong for most relays.
"""
from __future__ import annotations

TICKS_PER_DOLLAR = 10_000_000_000
_PLAIN = ("cost", "total_cost")


def reported_cost(usage: object) -> float | None:
    if not isinstance(usage, dict):
        return None
    found = _own(usage)
    if found is not None:
        return found
    nested = [_own(value) for value in usage.values() if isinstance(value, dict)]
    nested += [_own(v) for value in usage.values() if isinstance(value, dict) for v in value.values()
               if isinstance(v, dict)]
    known = [value for value in nested if value is not None]
    return round(sum(known), 10) if known else None


def _own(usage: dict) -> float | None:
    for key in _PLAIN:
        value = _number(usage.get(key))
        if value is not None:
            return value
    ticks = _number(usage.get("cost_in_usd_ticks"))
    return ticks / TICKS_PER_DOLLAR if ticks is not None else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number < 1e12 else None

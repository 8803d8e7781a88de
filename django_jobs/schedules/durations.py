"""Durations written as a whole number and a unit: ``30s``, ``5m``, ``2h``, ``30d``.

One parser for every place that reads them: interval schedules and the pruning age.
"""

from __future__ import annotations

import re
from datetime import timedelta

from ..exceptions import InvalidSchedule

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_LIKE = re.compile(r"([0-9]+)([A-Za-z]*)\Z", re.ASCII)
# More digits than this cannot be within any maximum we use, and stay far from overflow.
_MAX_DIGITS = 8


def parse_duration(
    text: str,
    *,
    what: str = "duration",
    expected: str | None = None,
    default_unit: str | None = None,
    maximum: timedelta | None = None,
) -> timedelta:
    """``<whole number><s|m|h|d>`` with nothing around it; raise InvalidSchedule saying why.

    ``what`` names the value in messages ("interval", "age"); ``expected`` replaces the
    message for text that is not a number and a unit at all. ``default_unit`` is the unit
    of a bare number; without one a unit is required. ``maximum`` is inclusive.
    """
    match = _LIKE.match(text) if isinstance(text, str) else None
    if match is None or not (match.group(2) or default_unit):
        raise InvalidSchedule(
            expected or f"expected a {what} such as 30s, 5m, 2h or 1d, got {text!r}"
        )
    digits, unit = match.group(1), match.group(2) or default_unit
    assert unit is not None
    if unit not in UNIT_SECONDS:
        raise InvalidSchedule(
            f"unknown {what} unit {unit!r} in {text!r}; "
            "use s (seconds), m (minutes), h (hours) or d (days)"
        )
    if not digits.strip("0"):
        raise InvalidSchedule(f"{what} must be at least 1 second, got {text!r}")
    if digits.startswith("0"):
        hint = digits.lstrip("0") + match.group(2)
        raise InvalidSchedule(f"{what} must not start with 0, got {text!r}; write {hint!r}")
    seconds = int(digits[: _MAX_DIGITS + 1]) * UNIT_SECONDS[unit]
    too_long = maximum is not None and seconds > maximum.total_seconds()
    if len(digits) > _MAX_DIGITS or too_long:
        limit = f"{maximum.days} days" if maximum is not None else f"{'9' * _MAX_DIGITS}{unit}"
        raise InvalidSchedule(f"{what} must be at most {limit}, got {text!r}")
    return timedelta(seconds=seconds)


def describe_duration(text: str) -> str:
    """``every 5 minutes`` for ``5m``; the text must already have been parsed."""
    count, word = int(text[:-1]), UNIT_WORDS[text[-1]]
    return f"every {word}" if count == 1 else f"every {count} {word}s"

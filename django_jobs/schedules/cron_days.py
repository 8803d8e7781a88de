"""Day items whose day depends on the month: reading them and matching them.

Day-of-month: ``L`` (the last day), ``L-n`` (n days before the last day), ``LW`` (the last
weekday, Monday to Friday) and ``nW`` (the weekday nearest day n, never in another month).
Day-of-week: ``weekday#n`` (the n-th such weekday), ``weekdayL`` and ``Lweekday`` (the last
such weekday). Weekdays are numbered 0 (Sunday) to 6 (Saturday) here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import InvalidSchedule
from .cron_fields import DOM, DOW, read_value

SATURDAY, SUNDAY = 6, 0
_NUMBER = re.compile(r"[0-9]+\Z")
_NEAREST = re.compile(r"([0-9]+)W\Z")


def _weekday_of(day: int, known_day: int, known_weekday: int) -> int:
    """The weekday of ``day`` in the month where ``known_day`` falls on ``known_weekday``."""
    return (known_weekday + day - known_day) % 7


def nearest_weekday(target: int, weekday: int, length: int) -> int | None:
    """The weekday nearest day ``target`` (whose weekday is given), inside the month."""
    if target > length:
        return None
    if weekday == SATURDAY:
        return target - 1 if target > 1 else target + 2
    if weekday == SUNDAY:
        return target + 1 if target < length else target - 2
    return target


def last_weekday_of_month(weekday_of_last_day: int, length: int) -> int:
    """The last Monday-to-Friday day of a month whose last day falls on the given weekday."""
    return length - {SATURDAY: 1, SUNDAY: 2}.get(weekday_of_last_day, 0)


@dataclass(frozen=True)
class MonthDays:
    """The day-of-month items that move with the month's length and weekdays."""

    before_last: frozenset[int] = frozenset()  # L is 0, L-2 is 2
    last_weekday: bool = False
    nearest: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.before_last or self.last_weekday or self.nearest)

    def matches(self, day: int, weekday: int, length: int) -> bool:
        if length - day in self.before_last:
            return True
        if self.last_weekday and day == last_weekday_of_month(
            _weekday_of(length, day, weekday), length
        ):
            return True
        return any(
            nearest_weekday(target, _weekday_of(target, day, weekday), length) == day
            for target in self.nearest
        )


@dataclass(frozen=True)
class MonthWeekdays:
    """The day-of-week items that count weeks within the month."""

    nth: frozenset[tuple[int, int]] = frozenset()
    last: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.nth or self.last)

    def matches(self, day: int, weekday: int, length: int) -> bool:
        if (weekday, (day - 1) // 7 + 1) in self.nth:
            return True
        return weekday in self.last and day + 7 > length


def read_month_day(item: str) -> tuple[str, int] | None:
    """``("last", n)`` for ``L`` / ``L-n``, ``("last_weekday", 0)`` for ``LW``,
    ``("nearest", n)`` for ``nW``; None for an item without L or W."""
    if item == "L":
        return "last", 0
    if item == "LW":
        return "last_weekday", 0
    if item.startswith("L-") and not any(mark in item for mark in "W/,"):
        return "last", _days_before_last(item, item[2:])
    if match := _NEAREST.match(item):
        return "nearest", _nearest_target(item, match.group(1))
    if "W" in item or "L" in item:
        _malformed_month_day(item)
    return None


def _days_before_last(item: str, digits: str) -> int:
    count = int(digits[:3]) if _NUMBER.match(digits) else -1
    if not 1 <= count <= 30 or len(digits) > 2:
        hint = "; write L for the last day itself" if count == 0 else ""
        raise InvalidSchedule(
            f"day-of-month {item!r}: the number after 'L-' must be 1-30 "
            f"(days before the last day of the month){hint}"
        )
    return count


def _nearest_target(item: str, digits: str) -> int:
    if len(digits) > 2 or not 1 <= int(digits) <= 31:
        raise InvalidSchedule(
            f"day-of-month {item!r}: the day before W must be 1-31, like 15W "
            "(the weekday nearest the 15th)"
        )
    return int(digits)


def _malformed_month_day(item: str) -> None:
    """Say what is wrong with an item using L or W that is none of the accepted forms."""
    if "/" in item:
        raise InvalidSchedule(
            f"day-of-month {item!r}: L and W cannot take a step; write L, L-n, LW or nW "
            "as a list item of its own, like 'L' or '15W'"
        )
    if "-" in item:
        raise InvalidSchedule(
            f"day-of-month {item!r}: L and W cannot be part of a range; write L, L-n "
            "(n days before the last day), LW or nW as a list item of its own"
        )
    if "W" in item:
        raise InvalidSchedule(
            f"day-of-month {item!r}: W needs one day 1-31 right before it, like 15W "
            "(the weekday nearest the 15th), or write LW (the last weekday)"
        )
    raise InvalidSchedule(f"day-of-month must be {DOM.allowed}, got {item!r}")


def read_nth(item: str) -> tuple[int, int]:
    """``weekday#n``: the n-th such weekday of the month."""
    base, _, week = item.partition("#")
    day = read_value(DOW, base)
    if week not in ("1", "2", "3", "4", "5"):
        raise InvalidSchedule(f"day-of-week {item!r}: the number after '#' must be 1-5")
    return day % 7, int(week)


def read_last_weekday(item: str) -> int:
    """``5L``, ``FRIL`` or ``L5``: the last such weekday of the month."""
    example = "5L or FRIL (the last Friday of the month)"
    if item == "L":
        raise InvalidSchedule(
            f"day-of-week must be {DOW.allowed}, got 'L'; for the last given weekday "
            f"of the month write {example}"
        )
    if "/" in item or "-" in item or "#" in item or item.count("L") > 1:
        raise InvalidSchedule(
            f"day-of-week {item!r}: L takes one weekday, without a range, step or '#', "
            f"like {example}"
        )
    base = item[1:] if item.startswith("L") else item[:-1] if item.endswith("L") else ""
    if not base:
        raise InvalidSchedule(
            f"day-of-week {item!r}: put L right after the weekday, like {example}"
        )
    return read_value(DOW, base) % 7

"""A parsed cron expression and its wall-clock matching.

Everything here works on naive local wall-clock times; turning them into instants (and
the daylight-saving rules) is the caller's job.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta

from .cron_days import MonthDays, MonthWeekdays

# Every matching pattern recurs within one 400-year Gregorian cycle.
MAX_SEARCH_YEARS = 400

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


def _first_at_least(values: tuple[int, ...], floor: int) -> int | None:
    index = bisect_left(values, floor)
    return values[index] if index < len(values) else None


@dataclass(frozen=True)
class CronFields:
    """A parsed cron expression: the normalised field texts and their value sets."""

    text: tuple[str, str, str, str, str]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]
    month_days: MonthDays
    month_weekdays: MonthWeekdays

    @property
    def last_day(self) -> bool:
        """Whether day-of-month has ``L``, the last day of the month."""
        return 0 in self.month_days.before_last

    @property
    def nth_weekdays(self) -> frozenset[tuple[int, int]]:
        """The ``(weekday, n)`` pairs of ``weekday#n`` items."""
        return self.month_weekdays.nth

    @property
    def expression(self) -> str:
        return " ".join(self.text)

    @property
    def wildcard_time(self) -> bool:
        """cronie's "wildcard job": minute or hour starts with ``*``; it follows the real clock."""
        return self.text[0].startswith("*") or self.text[1].startswith("*")

    def _day_pattern(self, day: int, weekday: int, length: int) -> bool:
        """Whether a day matches; cronie ANDs the two day fields if either starts with ``*``."""
        dom = day in self.days or self.month_days.matches(day, weekday, length)
        dow = weekday in self.weekdays or self.month_weekdays.matches(day, weekday, length)
        if self.text[2].startswith("*") or self.text[4].startswith("*"):
            return dom and dow
        return dom or dow

    def day_matches(self, when: datetime) -> bool:
        length = calendar.monthrange(when.year, when.month)[1]
        return self._day_pattern(when.day, (when.weekday() + 1) % 7, length)

    def can_fire(self) -> bool:
        """Whether any date ever matches; every month length meets every weekday in time."""
        for month in self.months:
            lengths = (28, 29) if month == 2 else (calendar.monthrange(2001, month)[1],)
            for length in lengths:
                for first in range(7):
                    for day in range(1, length + 1):
                        if self._day_pattern(day, (first + day - 1) % 7, length):
                            return True
        return False

    def next_match(self, start: datetime) -> datetime | None:
        """The first naive wall-clock minute at or after ``start`` that matches every field.

        Skips whole months, days and hours that cannot match, so a search costs a few dozen
        steps, not one per minute. None past year 9999 or the search horizon.
        """
        current = start.replace(second=0, microsecond=0)
        limit = current.year + MAX_SEARCH_YEARS
        try:
            while current.year <= limit:
                if current.month not in self.months:
                    month = _first_at_least(self.months, current.month)
                    year = current.year if month else current.year + 1
                    if year > 9999:
                        return None
                    current = datetime(year, month or self.months[0], 1)
                    continue
                midnight = current.replace(hour=0, minute=0)
                hour = _first_at_least(self.hours, current.hour)
                if hour is None or not self.day_matches(current):
                    current = midnight + _DAY
                    continue
                if hour != current.hour:
                    current = current.replace(hour=hour, minute=0)
                minute = _first_at_least(self.minutes, current.minute)
                if minute is None:
                    current = current.replace(minute=0) + _HOUR
                    continue
                return current.replace(minute=minute)
        except OverflowError:
            return None
        return None

"""Five-field cron expressions: parsing with readable errors, and wall-clock matching.

Semantics follow cronie (Vixie cron as maintained today): names are case-insensitive,
``7`` is Sunday, a step needs ``*`` or a range in front of it, and day-of-month and
day-of-week combine with OR only when neither field starts with ``*``. On top of that,
``L`` (last day of the month) in day-of-month and ``weekday#n`` (n-th weekday of the
month) in day-of-week are accepted. Everything here works on naive local wall-clock
times; turning them into instants (and the DST rules) is the caller's job.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta

from .exceptions import InvalidSchedule

FIELD_NAMES = "minute hour day-of-month month day-of-week"
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
NICKNAMES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# Every matching pattern recurs within one 400-year Gregorian cycle.
MAX_SEARCH_YEARS = 400

_NUMBER = re.compile(r"[0-9]+\Z")
_PLAIN_LIST = re.compile(r"[0-9]+(,[0-9]+)*\Z")
_STEP_OF_ALL = re.compile(r"\*/([0-9]+)\Z")
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_WORDS = tuple(calendar.month_name)[1:]


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    allowed: str
    names: tuple[str, ...] = ()
    name_base: int = 0


_MINUTE = _Field("minute", 0, 59, "0-59")
_HOUR_FIELD = _Field("hour", 0, 23, "0-23")
_DOM = _Field("day-of-month", 1, 31, "1-31 or L")
_MONTH = _Field("month", 1, 12, "1-12 or JAN-DEC", MONTH_NAMES, 1)
_DOW = _Field("day-of-week", 0, 7, "0-7 or SUN-SAT", DAY_NAMES, 0)


def _value(field: _Field, token: str) -> int:
    """One number or name of a field, checked against the field's range."""
    if _NUMBER.match(token):
        if len(token) <= 4 and field.low <= int(token) <= field.high:
            return int(token)
        shown = str(int(token)) if len(token) <= 4 else repr(token)
        raise InvalidSchedule(f"{field.name} must be {field.allowed}, got {shown}")
    if token in field.names:
        return field.names.index(token) + field.name_base
    raise InvalidSchedule(f"{field.name} must be {field.allowed}, got {token!r}")


def _step(field: _Field, item: str, text: str) -> int:
    if not _NUMBER.match(text):
        raise InvalidSchedule(f"{field.name} step must be a whole number, got {item!r}")
    if int(text[:5]) == 0:
        raise InvalidSchedule(f"{field.name} step must be at least 1, got {item!r}")
    if len(text) > 4:
        raise InvalidSchedule(f"{field.name} step must be at most 9999, got {item!r}")
    return int(text)


def _expand_item(field: _Field, item: str) -> set[int]:
    """Values of one list item: ``*``, ``N``, ``A-B``, ``*/S`` or ``A-B/S``."""
    base, slash, step_text = item.partition("/")
    step = _step(field, item, step_text) if slash else 1
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(field, first), _value(field, last)
        if low > high:
            raise InvalidSchedule(
                f"{field.name} range {base!r} runs backwards; write the smaller value first"
            )
    else:
        value = _value(field, base)
        if slash:
            raise InvalidSchedule(
                f"{field.name} step needs '*' or a range before the '/', "
                f"like '*/{step}' or '{base}-{field.high}/{step}', got {item!r}"
            )
        return {value}
    return set(range(low, high + 1, step))


def _items(field: _Field, text: str) -> list[str]:
    items = text.split(",")
    if "" in items:
        raise InvalidSchedule(f"{field.name} has an empty item in {text!r}")
    return items


def _expand(field: _Field, text: str) -> tuple[int, ...]:
    values: set[int] = set()
    for item in _items(field, text):
        values |= _expand_item(field, item)
    return tuple(sorted(values))


def _expand_dom(text: str) -> tuple[frozenset[int], bool]:
    """Day-of-month values, plus whether ``L`` (last day of the month) was given."""
    days: set[int] = set()
    last = False
    for item in _items(_DOM, text):
        if item == "L":
            last = True
        else:
            days |= _expand_item(_DOM, item)
    return frozenset(days), last


def _expand_dow(text: str) -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    """Weekdays (0 = Sunday; 7 folds onto 0) and ``(weekday, n)`` pairs from ``weekday#n``."""
    days: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _items(_DOW, text):
        base, hash_, week = item.partition("#")
        if not hash_:
            days |= {day % 7 for day in _expand_item(_DOW, item)}
        elif week in ("1", "2", "3", "4", "5"):
            nth.add((_value(_DOW, base) % 7, int(week)))
        else:
            raise InvalidSchedule(f"day-of-week {item!r}: the number after '#' must be 1-5")
    return frozenset(days), frozenset(nth)


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
    last_day: bool
    months: tuple[int, ...]
    weekdays: frozenset[int]
    nth_weekdays: frozenset[tuple[int, int]]

    @property
    def expression(self) -> str:
        return " ".join(self.text)

    @property
    def wildcard_time(self) -> bool:
        """cronie's "wildcard job": minute or hour starts with ``*``; it follows the real clock."""
        return self.text[0].startswith("*") or self.text[1].startswith("*")

    def _day_pattern(self, day: int, weekday: int, length: int) -> bool:
        """Whether a day matches; cronie ANDs the two day fields if either starts with ``*``."""
        dom = day in self.days or (self.last_day and day == length)
        dow = weekday in self.weekdays or (weekday, (day - 1) // 7 + 1) in self.nth_weekdays
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


def parse_cron(expression: str) -> CronFields:
    """Parse 5 fields or an ``@nickname``; raise InvalidSchedule saying what is wrong."""
    text = expression.strip()
    if text.startswith("@"):
        key = text.lower()
        if key == "@reboot":
            raise InvalidSchedule(
                "@reboot is not supported: a job needs times to run at; "
                "use a cron expression or an interval"
            )
        if key not in NICKNAMES:
            raise InvalidSchedule(f"unknown nickname {text!r}; use one of {', '.join(NICKNAMES)}")
        text = NICKNAMES[key]
    parts = text.upper().split()
    if len(parts) != 5:
        raise InvalidSchedule(f"expected 5 fields ({FIELD_NAMES}), got {len(parts)}")
    days, last_day = _expand_dom(parts[2])
    weekdays, nth_weekdays = _expand_dow(parts[4])
    fields = CronFields(
        text=(parts[0], parts[1], parts[2], parts[3], parts[4]),
        minutes=_expand(_MINUTE, parts[0]),
        hours=_expand(_HOUR_FIELD, parts[1]),
        days=days,
        last_day=last_day,
        months=_expand(_MONTH, parts[3]),
        weekdays=weekdays,
        nth_weekdays=nth_weekdays,
    )
    if not fields.can_fire():
        raise InvalidSchedule(
            f"cron {fields.expression!r} never runs: no date matches its "
            "day-of-month, month and day-of-week"
        )
    return fields


# Descriptions: plain English for the common shapes, None for the rest.


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _describe_clock(minute: str, hour: str) -> str | None:
    """Sub-daily shapes such as ``*/5 * * * *`` or ``0 */2 * * *``."""
    minute_step = _STEP_OF_ALL.match(minute)
    hour_step = _STEP_OF_ALL.match(hour)
    if hour == "*" and minute == "*":
        return "every minute"
    if hour == "*" and minute_step:
        step = int(minute_step.group(1))
        if step == 1:
            return "every minute"
        return f"every {step} minutes" if 60 % step == 0 else f"every {_ordinal(step)} minute"
    if not _NUMBER.match(minute):
        return None
    if hour == "*":
        return f"at minute {int(minute)} of every hour"
    if hour_step:
        step = int(hour_step.group(1))
        if step == 1:
            return f"at minute {int(minute)} of every hour"
        if 24 % step == 0:
            return f"every {step} hours at minute {int(minute)}"
        return f"at minute {int(minute)} of every {_ordinal(step)} hour"
    return None


def _describe_times(fields: CronFields) -> str | None:
    """A short list of clock times, e.g. ``09:00 and 17:00``."""
    minute, hour = fields.text[:2]
    if not (_PLAIN_LIST.match(minute) and _PLAIN_LIST.match(hour)):
        return None
    if len(fields.minutes) * len(fields.hours) > 4:
        return None
    return _join([f"{h:02d}:{m:02d}" for h in fields.hours for m in fields.minutes])


def _describe_weekdays(fields: CronFields) -> str | None:
    if fields.nth_weekdays:
        if fields.weekdays or len(fields.nth_weekdays) > 1:
            return None
        ((weekday, week),) = fields.nth_weekdays
        return f"on the {_ordinal(week)} {_DAY_WORDS[weekday]} of every month"
    if fields.weekdays == {1, 2, 3, 4, 5}:
        return "on weekdays"
    ordered = sorted(fields.weekdays, key=lambda day: (day + 6) % 7)  # Monday first
    return "on " + _join([_DAY_WORDS[day] for day in ordered])


def _describe_days(fields: CronFields) -> str | None:
    dom, month, dow = fields.text[2:]
    if month != "*":
        if dow == "*" and _NUMBER.match(dom) and _NUMBER.match(month):
            return f"on {int(dom)} {_MONTH_WORDS[int(month) - 1]}"
        return None
    if dom == "*":
        return "every day" if dow == "*" else _describe_weekdays(fields)
    if dow != "*":
        return None
    if dom == "L":
        return "on the last day of every month"
    if _PLAIN_LIST.match(dom):
        days = [str(day) for day in sorted(fields.days)]
        return f"on day{'s' if len(days) > 1 else ''} {_join(days)} of every month"
    return None


def describe_fields(fields: CronFields) -> str | None:
    """Plain English for common shapes; None when an honest short sentence is not at hand."""
    minute, hour, dom, month, dow = fields.text
    if (dom, month, dow) == ("*", "*", "*"):
        clock = _describe_clock(minute, hour)
        if clock:
            return clock
    times = _describe_times(fields)
    days = _describe_days(fields)
    if times is None or days is None:
        return None
    return f"every day at {times}" if days == "every day" else f"at {times} {days}"

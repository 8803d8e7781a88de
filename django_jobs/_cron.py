"""Five-field cron expressions: parsing with readable errors, and wall-clock matching.

Semantics follow cronie (Vixie cron as maintained today): names are case-insensitive,
``7`` is Sunday, a step needs ``*`` or a range in front of it, and day-of-month and
day-of-week combine with OR only when neither field starts with ``*``. On top of that,
``L`` (last day of the month) in day-of-month and ``weekday#n`` (n-th weekday of the
month) in day-of-week are accepted. Everything here works on naive local wall-clock
times; turning them into instants (and the DST rules) is the caller's job.

Each field is checked here, item by item, so errors can say exactly what is wrong; croniter
then expands the fields into value sets. Where croniter's reading differs from cronie's
(noted below) the values come from the checked text instead. Whether the two day fields
combine with OR is always decided from the text, never from croniter's expansion.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from croniter import CroniterError, croniter

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
_FIELDS = (_MINUTE, _HOUR_FIELD, _DOM, _MONTH, _DOW)


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


def _check_item(field: _Field, item: str) -> int | None:
    """Check ``*``, ``N``, ``A-B``, ``*/S`` or ``A-B/S``; return A for a range ``A-A``."""
    base, slash, step_text = item.partition("/")
    step = _step(field, item, step_text) if slash else 1
    if base == "*":
        return None
    if "-" not in base:
        _value(field, base)
        if slash:
            raise InvalidSchedule(
                f"{field.name} step needs '*' or a range before the '/', "
                f"like '*/{step}' or '{base}-{field.high}/{step}', got {item!r}"
            )
        return None
    first, _, last = base.partition("-")
    low, high = _value(field, first), _value(field, last)
    if low > high:
        raise InvalidSchedule(
            f"{field.name} range {base!r} runs backwards; write the smaller value first"
        )
    return low if low == high else None


def _items(field: _Field, text: str) -> list[str]:
    items = text.split(",")
    if "" in items:
        raise InvalidSchedule(f"{field.name} has an empty item in {text!r}")
    return items


def _check_nth(item: str) -> None:
    base, _, week = item.partition("#")
    _value(_DOW, base)
    if week not in ("1", "2", "3", "4", "5"):
        raise InvalidSchedule(f"day-of-week {item!r}: the number after '#' must be 1-5")


def _split(field: _Field, text: str) -> tuple[list[str], set[int], list[str]]:
    """Check a field item by item, the cronie way, and sort its items for expansion.

    Returns the items croniter expands, the values of items it would get wrong, and (for
    day-of-week) the ``weekday#n`` items. ``L`` in day-of-month is read from the text, not
    by croniter: it counts ``L`` as one more day, so ``2-31,L`` comes back as ``*`` and
    would run on the 1st.
    """
    items: list[str] = []
    own: set[int] = set()
    nth: list[str] = []
    for item in _items(field, text):
        if field is _DOM and item == "L":
            continue
        if field is _DOW and "#" in item:
            _check_nth(item)
            nth.append(item)
        else:
            single = _check_item(field, item)
            if single is None:
                items.append(item)
            else:
                # croniter reads a one-value range such as 5-5 (or 5-5/2) as the whole
                # field; cronie reads it as that one value.
                own.add(single % 7 if field is _DOW else single)
    return items, own, nth


def _values(expanded: list[int | str], field: _Field) -> set[int]:
    """croniter's expansion of one field, where ``*`` (alone or in a list) means every value."""
    if "*" in expanded:
        return set(range(field.low, 7 if field is _DOW else field.high + 1))
    return {value for value in expanded if isinstance(value, int)}


def _expand(parts: list[str]) -> CronFields:
    """Check the five fields, then have croniter expand them into value sets."""
    splits = [_split(field, text) for field, text in zip(_FIELDS, parts, strict=True)]
    # A field with nothing for croniter gets a placeholder whose expansion is ignored.
    texts = [",".join(items) or "*" for items, _, _ in splits]
    weekday_items, _, nth_items = splits[4]
    # croniter refuses plain weekdays mixed with weekday#n ("1,5#2") and folds a plain
    # weekday into a weekday#n of the same day ("1,1#1"), so mixed fields take two calls.
    separate_nth = bool(weekday_items and nth_items)
    if nth_items and not separate_nth:
        texts[4] = ",".join(nth_items)
    try:
        expanded, nth = croniter.expand(" ".join(texts))
        if separate_nth:
            nth = croniter.expand(f"* * * * {','.join(nth_items)}")[1]
    except CroniterError as exc:
        raise InvalidSchedule(f"cron {' '.join(parts)!r} is not supported: {exc}") from None
    values = [
        (_values(field_values, field) if items else set()) | own
        for field, (items, own, _), field_values in zip(_FIELDS, splits, expanded, strict=True)
    ]
    return CronFields(
        text=(parts[0], parts[1], parts[2], parts[3], parts[4]),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        last_day="L" in parts[2].split(","),
        months=tuple(sorted(values[3])),
        weekdays=frozenset(values[4]),
        nth_weekdays=frozenset((day, week) for day, weeks in nth.items() for week in weeks),
    )


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


@lru_cache(maxsize=1024)
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
    fields = _expand(parts)
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

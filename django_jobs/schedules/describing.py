"""Plain English for the common cron shapes, None for the rest."""

from __future__ import annotations

import calendar
import re

from .cron_matching import CronFields

_NUMBER = re.compile(r"[0-9]+\Z")
_PLAIN_LIST = re.compile(r"[0-9]+(,[0-9]+)*\Z")
_STEP_OF_ALL = re.compile(r"\*/([0-9]+)\Z")
_DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_WORDS = tuple(calendar.month_name)[1:]


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

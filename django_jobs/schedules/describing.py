"""Plain English for the common cron shapes, None for the rest."""

from __future__ import annotations

import calendar
import re
from dataclasses import replace

from .cron_matching import CronFields

_NUMBER = re.compile(r"[0-9]+\Z")
_PLAIN_LIST = re.compile(r"[0-9]+(,[0-9]+)*\Z")
_STEP_OF_ALL = re.compile(r"\*/(?P<step>[0-9]+)\Z")
_STEP_FROM = re.compile(r"(?P<start>[0-9]+)/(?P<step>[0-9]+)\Z")
_DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_WORDS = tuple(calendar.month_name)[1:]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _every_nth(step: int, unit: str, whole: int) -> str:
    """``every 15 minutes`` when the step divides the hour (or day), else ``every 7th minute``."""
    if whole % step == 0:
        return f"every {step} {unit}s"
    return f"every {_ordinal(step)} {unit}"


def _describe_clock(minute: str, hour: str) -> str | None:
    """Sub-daily shapes such as ``*/5 * * * *``, ``5/15 * * * *`` or ``0 */2 * * *``."""
    minute_step = _STEP_OF_ALL.match(minute) or _STEP_FROM.match(minute)
    hour_step = _STEP_OF_ALL.match(hour) or _STEP_FROM.match(hour)
    if hour == "*" and minute == "*":
        return "every minute"
    if hour == "*" and minute_step:
        start, step = int(minute_step.groupdict().get("start") or 0), int(minute_step.group("step"))
        if start == 0:
            return "every minute" if step == 1 else _every_nth(step, "minute", 60)
        return f"{_every_nth(step, 'minute', 60)} from minute {start}"
    if not _NUMBER.match(minute):
        return None
    if hour == "*":
        return f"at minute {int(minute)} of every hour"
    if hour_step:
        start, step = int(hour_step.groupdict().get("start") or 0), int(hour_step.group("step"))
        if step == 1 and start == 0:
            return f"at minute {int(minute)} of every hour"
        if start:
            return f"{_every_nth(step, 'hour', 24)} from {start:02d}:{int(minute):02d}"
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


def _month_weekday_phrases(fields: CronFields) -> list[str]:
    """``the 2nd Monday``, ``the last Friday``: Monday first, then by week."""
    found = [(day, week) for day, week in fields.month_weekdays.nth]
    found += [(day, 6) for day in fields.month_weekdays.last]
    found.sort(key=lambda pair: ((pair[0] + 6) % 7, pair[1]))
    return [
        f"the {'last' if week == 6 else _ordinal(week)} {_DAY_WORDS[day]}" for day, week in found
    ]


def _describe_weekdays(fields: CronFields) -> str | None:
    if fields.month_weekdays:
        if fields.weekdays:
            return None
        return f"on {_join(_month_weekday_phrases(fields))} of every month"
    if fields.weekdays == {1, 2, 3, 4, 5}:
        return "on weekdays"
    ordered = sorted(fields.weekdays, key=lambda day: (day + 6) % 7)  # Monday first
    return "on " + _join([_DAY_WORDS[day] for day in ordered])


def _month_day_phrase(item: str) -> str | None:
    """One day-of-month item in words, or None for ranges and steps."""
    if _NUMBER.match(item):
        return f"the {_ordinal(int(item))}"
    if item == "L":
        return "the last day"
    if item == "LW":
        return "the last weekday"
    if item.endswith("W"):
        return f"the weekday nearest the {_ordinal(int(item[:-1]))}"
    if item.startswith("L-"):
        count = int(item[2:])
        return (
            "the day before the last day"
            if count == 1
            else (f"the {_ordinal(count)} day before the last day")
        )
    return None


def _describe_month_days(fields: CronFields) -> str | None:
    dom = fields.text[2]
    if _PLAIN_LIST.match(dom) or _STEP_FROM.match(dom):
        days = [str(day) for day in sorted(fields.days)]
        return f"on day{'s' if len(days) > 1 else ''} {_join(days)} of every month"
    phrases = [_month_day_phrase(item) for item in dom.split(",")]
    if None in phrases:
        return None
    return f"on {_join([phrase for phrase in phrases if phrase])} of every month"


def _in_months(days: str, fields: CronFields) -> str | None:
    """The day phrase narrowed to the months of a month field such as ``1,7`` or ``2/3``."""
    if not (_PLAIN_LIST.match(fields.text[3]) or _STEP_FROM.match(fields.text[3])):
        return None
    months = _join([_MONTH_WORDS[month - 1] for month in fields.months])
    if days.endswith(" of every month"):
        return f"{days.removesuffix(' of every month')} of {months}"
    return f"{days} in {months}"


def _describe_days(fields: CronFields) -> str | None:
    dom, month, dow = fields.text[2:]
    if month != "*":
        if dow == "*" and _NUMBER.match(dom) and _NUMBER.match(month):
            return f"on {int(dom)} {_MONTH_WORDS[int(month) - 1]}"
        days = _describe_days(replace(fields, text=(*fields.text[:3], "*", dow)))
        return None if days is None else _in_months(days, fields)
    if dom == "*":
        return "every day" if dow == "*" else _describe_weekdays(fields)
    if dow != "*":
        return None
    return _describe_month_days(fields)


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

"""The five cron fields: their names, ranges and how one value or step is read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import InvalidSchedule

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
_NUMBER = re.compile(r"[0-9]+\Z")


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    allowed: str
    names: tuple[str, ...] = ()
    name_base: int = 0


MINUTE = Field("minute", 0, 59, "0-59")
HOUR = Field("hour", 0, 23, "0-23")
DOM = Field("day-of-month", 1, 31, "1-31, L, L-n, LW or nW")
MONTH = Field("month", 1, 12, "1-12 or JAN-DEC", MONTH_NAMES, 1)
DOW = Field("day-of-week", 0, 7, "0-7 or SUN-SAT", DAY_NAMES, 0)
FIELDS = (MINUTE, HOUR, DOM, MONTH, DOW)


def read_value(field: Field, token: str) -> int:
    """One number or name of a field, checked against the field's range."""
    if _NUMBER.match(token):
        if len(token) <= 4 and field.low <= int(token) <= field.high:
            return int(token)
        shown = str(int(token)) if len(token) <= 4 else repr(token)
        raise InvalidSchedule(f"{field.name} must be {field.allowed}, got {shown}")
    if token in field.names:
        return field.names.index(token) + field.name_base
    raise InvalidSchedule(f"{field.name} must be {field.allowed}, got {token!r}")


def read_step(field: Field, item: str, text: str) -> int:
    if not _NUMBER.match(text):
        raise InvalidSchedule(f"{field.name} step must be a whole number, got {item!r}")
    if int(text[:5]) == 0:
        raise InvalidSchedule(f"{field.name} step must be at least 1, got {item!r}")
    if len(text) > 4:
        raise InvalidSchedule(f"{field.name} step must be at most 9999, got {item!r}")
    return int(text)

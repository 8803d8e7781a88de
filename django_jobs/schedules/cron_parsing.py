"""Five-field cron expressions: parsing with readable errors.

Semantics follow cronie (Vixie cron as maintained today): names are case-insensitive,
``7`` is Sunday, a day-of-week range may end on Sunday (``FRI-SUN``, ``5-0``), and
day-of-month and day-of-week combine with OR only when neither field starts with ``*``.
On top of that: ``N/S`` means ``N-<last>/S`` (as in cronsim and croniter), and the day
items of :mod:`.cron_days` (``L``, ``L-n``, ``LW``, ``nW``, ``weekday#n``, ``weekdayL``).

Each field is checked here, item by item, so errors can say exactly what is wrong; croniter
then expands the plain items into value sets. Where croniter's reading differs from
cronie's (noted below), and for the forms croniter lacks, values come from the checked
text instead. Whether the two day fields combine with OR is always decided from the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from croniter import CroniterError, croniter

from ..exceptions import InvalidSchedule
from .cron_days import MonthDays, MonthWeekdays, read_last_weekday, read_month_day, read_nth
from .cron_fields import DOM, DOW, FIELD_NAMES, FIELDS, NICKNAMES, Field, read_step, read_value
from .cron_matching import CronFields

# Around the expression any ASCII whitespace is ignored; between fields only these.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
_SEPARATOR = re.compile(r"[ \t]+")
_CONTROL_NAMES = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\x0b": "LINE TABULATION"}


@dataclass
class _Items:
    """One field, checked: what croniter expands, and what is read from the text here."""

    plain: list[str] = field(default_factory=list)
    own: set[int] = field(default_factory=set)
    month_days: dict[str, set[int]] = field(default_factory=dict)  # see read_month_day
    nth: set[tuple[int, int]] = field(default_factory=set)
    last_weekdays: set[int] = field(default_factory=set)


def _check_item(field: Field, item: str) -> set[int] | None:
    """Check ``*``, ``N``, ``A-B``, ``*/S``, ``A-B/S`` or ``N/S``.

    None when croniter can expand the item as written; otherwise its values, read here:
    ``N/S`` runs from N to the field's end; croniter reads a one-value range such as
    ``5-5`` (or ``5-5/2``) as the whole field, cronie as that one value; and a day-of-week
    range ending on Sunday (``FRI-SUN``, ``5-0``) ends at 7, as cronie reads it.
    """
    base, slash, step_text = item.partition("/")
    step = read_step(field, item, step_text) if slash else 1
    if base == "*":
        return None
    if "-" not in base:
        start = read_value(field, base)
        return set(range(start, field.high + 1, step)) if slash else None
    first, _, last = base.partition("-")
    low, high = read_value(field, first), read_value(field, last)
    if field is DOW and high == 0 and low > 0:
        return set(range(low, 8, step))
    if low > high:
        raise InvalidSchedule(
            f"{field.name} range {base!r} runs backwards; write the smaller value first"
        )
    return {low} if low == high else None


def _items(field: Field, text: str) -> list[str]:
    items = text.split(",")
    if "" in items:
        raise InvalidSchedule(f"{field.name} has an empty item in {text!r}")
    return items


def _read_weekday_item(item: str, found: _Items) -> bool:
    """``weekday#n`` and ``weekdayL``; True when the item was one of them."""
    if item.endswith("W"):
        raise InvalidSchedule(
            f"day-of-week {item!r}: W is only for day-of-month, like '15W' "
            "(the weekday nearest the 15th) or 'LW' (the last weekday of the month)"
        )
    if "L" in item:
        found.last_weekdays.add(read_last_weekday(item))
    elif "#" in item:
        found.nth.add(read_nth(item))
    else:
        return False
    return True


def _read_month_day_item(item: str, found: _Items) -> bool:
    special = read_month_day(item)
    if special is not None:
        kind, value = special
        found.month_days.setdefault(kind, set()).add(value)
    return special is not None


def _split(field: Field, text: str) -> _Items:
    """Check a field item by item, the cronie way, and sort its items for expansion."""
    found = _Items()
    for item in _items(field, text):
        if field is DOM and _read_month_day_item(item, found):
            continue
        if field is DOW and _read_weekday_item(item, found):
            continue
        values = _check_item(field, item)
        if values is None:
            found.plain.append(item)
        else:
            found.own |= {value % 7 for value in values} if field is DOW else values
    return found


def _values(expanded: Sequence[int | str], field: Field) -> set[int]:
    """croniter's expansion of one field, where ``*`` (alone or in a list) means every value."""
    if "*" in expanded:
        return set(range(field.low, 7 if field is DOW else field.high + 1))
    return {value for value in expanded if isinstance(value, int)}


def _expand(parts: list[str]) -> CronFields:
    """Check the five fields, then have croniter expand their plain items into value sets."""
    splits = [_split(field, text) for field, text in zip(FIELDS, parts, strict=True)]
    # A field with nothing for croniter gets a placeholder whose expansion is ignored.
    texts = [",".join(found.plain) or "*" for found in splits]
    try:
        expanded = croniter.expand(" ".join(texts))[0]
    except CroniterError as exc:
        raise InvalidSchedule(f"cron {' '.join(parts)!r} is not supported: {exc}") from None
    values = [
        (_values(field_values, field) if found.plain else set()) | found.own
        for field, found, field_values in zip(FIELDS, splits, expanded, strict=True)
    ]
    dom, dow = splits[2].month_days, splits[4]
    return CronFields(
        text=(parts[0], parts[1], parts[2], parts[3], parts[4]),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=tuple(sorted(values[3])),
        weekdays=frozenset(values[4]),
        month_days=MonthDays(
            before_last=frozenset(dom.get("last", ())),
            last_weekday=bool(dom.get("last_weekday")),
            nearest=frozenset(dom.get("nearest", ())),
        ),
        month_weekdays=MonthWeekdays(nth=frozenset(dow.nth), last=frozenset(dow.last_weekdays)),
    )


def _character_name(char: str) -> str:
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "")
    return f"U+{ord(char):04X} {name}".rstrip()


def _fields_of(text: str) -> list[str]:
    """The fields, separated by ASCII spaces and tabs only, so that what looks like five
    fields is five fields; any other whitespace is refused by name."""
    for position, char in enumerate(text):
        if char.isspace() and char not in " \t":
            raise InvalidSchedule(
                f"cron fields must be separated by spaces or tabs, but {text!r} has "
                f"{_character_name(char)} at position {position + 1}; "
                "retype the spaces between the fields"
            )
    return _SEPARATOR.split(text.upper())


@lru_cache(maxsize=1024)
def parse_cron(expression: str) -> CronFields:
    """Parse 5 fields or an ``@nickname``; raise InvalidSchedule saying what is wrong."""
    text = expression.strip(_ASCII_WHITESPACE)
    parts = _fields_of(text)
    if text.startswith("@"):
        key = text.lower()
        if key == "@reboot":
            raise InvalidSchedule(
                "@reboot is not supported: a job needs times to run at; "
                "use a cron expression or an interval"
            )
        if key not in NICKNAMES:
            raise InvalidSchedule(f"unknown nickname {text!r}; use one of {', '.join(NICKNAMES)}")
        parts = NICKNAMES[key].split()
    if len(parts) != 5:
        raise InvalidSchedule(f"expected 5 fields ({FIELD_NAMES}), got {len(parts)}")
    fields = _expand(parts)
    if not fields.can_fire():
        raise InvalidSchedule(
            f"cron {fields.expression!r} never runs: no date matches its "
            "day-of-month, month and day-of-week"
        )
    return fields

"""Five-field cron expressions: parsing with readable errors.

Semantics follow cronie (Vixie cron as maintained today): names are case-insensitive,
``7`` is Sunday, and day-of-month and day-of-week combine with OR only when neither field
starts with ``*``. Each field is checked here, item by item, so errors can say exactly
what is wrong; croniter then expands the fields into value sets. Where croniter's reading
differs from cronie's (noted below) the values come from the checked text instead.
"""

from __future__ import annotations

from functools import lru_cache

from croniter import CroniterError, croniter

from ..exceptions import InvalidSchedule
from .cron_fields import DOM, DOW, FIELD_NAMES, FIELDS, NICKNAMES, Field, read_step, read_value
from .cron_matching import CronFields


def _check_item(field: Field, item: str) -> int | None:
    """Check ``*``, ``N``, ``A-B``, ``*/S`` or ``A-B/S``; return A for a range ``A-A``."""
    base, slash, step_text = item.partition("/")
    step = read_step(field, item, step_text) if slash else 1
    if base == "*":
        return None
    if "-" not in base:
        read_value(field, base)
        if slash:
            raise InvalidSchedule(
                f"{field.name} step needs '*' or a range before the '/', "
                f"like '*/{step}' or '{base}-{field.high}/{step}', got {item!r}"
            )
        return None
    first, _, last = base.partition("-")
    low, high = read_value(field, first), read_value(field, last)
    if low > high:
        raise InvalidSchedule(
            f"{field.name} range {base!r} runs backwards; write the smaller value first"
        )
    return low if low == high else None


def _items(field: Field, text: str) -> list[str]:
    items = text.split(",")
    if "" in items:
        raise InvalidSchedule(f"{field.name} has an empty item in {text!r}")
    return items


def _check_nth(item: str) -> None:
    base, _, week = item.partition("#")
    read_value(DOW, base)
    if week not in ("1", "2", "3", "4", "5"):
        raise InvalidSchedule(f"day-of-week {item!r}: the number after '#' must be 1-5")


def _split(field: Field, text: str) -> tuple[list[str], set[int], list[str]]:
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
        if field is DOM and item == "L":
            continue
        if field is DOW and "#" in item:
            _check_nth(item)
            nth.append(item)
        else:
            single = _check_item(field, item)
            if single is None:
                items.append(item)
            else:
                # croniter reads a one-value range such as 5-5 (or 5-5/2) as the whole
                # field; cronie reads it as that one value.
                own.add(single % 7 if field is DOW else single)
    return items, own, nth


def _values(expanded: list[int | str], field: Field) -> set[int]:
    """croniter's expansion of one field, where ``*`` (alone or in a list) means every value."""
    if "*" in expanded:
        return set(range(field.low, 7 if field is DOW else field.high + 1))
    return {value for value in expanded if isinstance(value, int)}


def _expand(parts: list[str]) -> CronFields:
    """Check the five fields, then have croniter expand them into value sets."""
    splits = [_split(field, text) for field, text in zip(FIELDS, parts, strict=True)]
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
        for field, (items, own, _), field_values in zip(FIELDS, splits, expanded, strict=True)
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

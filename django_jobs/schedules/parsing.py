"""``parse_schedule``: one entry point for intervals and cron expressions."""

from __future__ import annotations

from datetime import tzinfo

from ..exceptions import InvalidSchedule
from .base import Schedule
from .cron import CronSchedule
from .cron_parsing import parse_cron
from .intervals import IntervalSchedule, parse_interval
from .zones import resolve_zone


def _looks_like_interval(expression: str) -> bool:
    """Short expressions that are not nicknames are read as intervals, for better errors."""
    text = expression.strip()
    return not text.startswith("@") and len(text.split()) <= 2


def parse_schedule(expr: str, tz: str | tzinfo | None = None) -> Schedule:
    """Parse a cron expression or interval; raise InvalidSchedule with a readable reason.

    ``tz`` is the time zone cron fields are read in: an IANA name or a ZoneInfo. None means
    Django's ``TIME_ZONE`` when settings are configured, else UTC.
    """
    if not isinstance(expr, str):
        raise InvalidSchedule(
            f"a schedule must be a string such as '0 2 * * *' or '10m', got {type(expr).__name__}"
        )
    if not expr.strip():
        raise InvalidSchedule(
            "the schedule is empty; give a cron expression such as '0 2 * * *' "
            "or an interval such as '10m'"
        )
    if _looks_like_interval(expr):
        interval = parse_interval(expr)
        name, _ = resolve_zone(tz)
        return IntervalSchedule(expression=expr, timezone=name, interval=interval)
    fields = parse_cron(expr)
    name, zone = resolve_zone(tz)
    return CronSchedule(expression=fields.expression, timezone=name, fields=fields, zone=zone)

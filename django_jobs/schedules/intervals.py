"""Fixed intervals such as ``30s``, ``5m``, ``2h`` or ``1d``, counted from an anchor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from .base import Schedule
from .cron_fields import FIELD_NAMES
from .durations import describe_duration, parse_duration
from .zones import to_utc

MAX_INTERVAL = timedelta(days=365)


def parse_interval(expression: str) -> timedelta:
    """``<whole number><s|m|h|d>`` with nothing around it, within 1 second to 365 days."""
    return parse_duration(
        expression,
        what="interval",
        maximum=MAX_INTERVAL,
        expected=(
            f"{expression!r} is not a schedule: expected an interval such as 30s, 5m, 2h or 1d "
            f"(a whole number followed by s, m, h or d) or a cron expression with 5 fields "
            f"({FIELD_NAMES})"
        ),
    )


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """Runs every ``interval``; slots are counted from an anchor so they never drift."""

    expression: str
    timezone: str
    interval: timedelta
    is_interval: ClassVar[bool] = True
    is_wildcard_time: ClassVar[bool] = False

    def next_after(self, after: datetime) -> datetime:
        return to_utc(after) + self.interval

    def next_slot(self, after: datetime, anchor: datetime | None = None) -> datetime:
        """The smallest ``anchor + k * interval`` (any integer k) strictly after ``after``."""
        if anchor is None:
            return self.next_after(after)
        after_utc, anchor_utc = to_utc(after), to_utc(anchor, "anchor")
        steps = (after_utc - anchor_utc) // self.interval + 1
        return anchor_utc + steps * self.interval

    def describe(self) -> str:
        return describe_duration(self.expression)

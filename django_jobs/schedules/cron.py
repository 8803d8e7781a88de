"""Cron schedules: a parsed expression evaluated on the wall clock of a time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import ClassVar

from .base import Schedule
from .cron_matching import CronFields
from .describing import describe_fields
from .wallclock import firing_instants, repeat_width
from .zones import to_utc

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A cron expression evaluated on the wall clock of ``timezone``."""

    expression: str
    timezone: str
    fields: CronFields = field(repr=False, compare=False)
    zone: tzinfo = field(repr=False, compare=False)
    is_interval: ClassVar[bool] = False
    interval: ClassVar[None] = None

    @property
    def is_wildcard_time(self) -> bool:  # type: ignore[override]
        """True when the minute or hour field starts with ``*`` (follows the real clock)."""
        return self.fields.wildcard_time

    def next_after(self, after: datetime) -> datetime:
        after_utc = to_utc(after)
        local = after_utc.astimezone(self.zone)
        cursor = local.replace(tzinfo=None, fold=0, second=0, microsecond=0)
        wildcard = self.fields.wildcard_time
        if wildcard and local.fold == 0:
            # In the first pass of a repeated hour, wall times just passed come round again.
            cursor -= repeat_width(cursor, self.zone)
        best: datetime | None = None
        horizon: datetime | None = None
        while True:
            naive = self.fields.next_match(cursor)
            if naive is None or (horizon is not None and naive >= horizon):
                break
            for instant in firing_instants(naive, self.zone, wildcard):
                if instant > after_utc and (best is None or instant < best):
                    best = instant
                    # A later wall time inside a repeated hour may still come earlier.
                    horizon = naive + repeat_width(naive, self.zone)
            cursor = naive + _MINUTE
        if best is None:
            raise OverflowError(f"cron {self.expression!r} has no run after {after.isoformat()}")
        return best

    def describe(self) -> str:
        text = describe_fields(self.fields)
        if text is None:
            return f"cron {self.expression!r} in {self.timezone}"
        return text if self.timezone == "UTC" else f"{text} ({self.timezone})"

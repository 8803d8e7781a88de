"""Schedule expressions: when a recurring job runs next.

Two kinds of expression are accepted:

* fixed intervals such as ``30s``, ``5m``, ``2h`` or ``1d`` (1 second to 365 days), and
* five-field cron expressions (and ``@daily`` style nicknames), evaluated in a time zone.

Cron follows cronie, including its daylight-saving rules. A *wildcard* job (minute or
hour field starting with ``*``) follows the real clock: local times skipped when clocks
go forward simply do not happen, and local times repeated when clocks go back happen
twice. Any other job is *fixed-time*: if its local time is skipped it runs once at the
first instant after the gap, and if its local time is repeated it runs only the first
time. All instants returned are aware datetimes in UTC.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._cron import FIELD_NAMES, CronFields, describe_fields, parse_cron
from .exceptions import InvalidSchedule

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "InvalidSchedule",
    "Schedule",
    "parse_schedule",
    "validate_timezone",
]

UTC = dt_timezone.utc
MAX_INTERVAL = timedelta(days=365)
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_INTERVAL = re.compile(r"[1-9][0-9]*[smhd]\Z", re.ASCII)
_INTERVAL_LIKE = re.compile(r"([0-9]+)([A-Za-z]+)\Z", re.ASCII)


# Time zones and datetimes


def validate_timezone(name: object) -> str:
    """Return ``name`` if it is a known IANA time zone; raise InvalidSchedule otherwise."""
    if not isinstance(name, str) or not name:
        raise InvalidSchedule(f"unknown time zone {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None
    return name


def _default_zone_name() -> str:
    """Django's TIME_ZONE when settings are configured, so schedules read like the site."""
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is a dependency
        return "UTC"
    if settings.configured:
        return getattr(settings, "TIME_ZONE", None) or "UTC"
    return "UTC"


def _resolve_zone(tz: str | tzinfo | None) -> tuple[str, tzinfo]:
    """A (name, zone) pair; only named zones are accepted so the name can be stored."""
    if tz is None:
        tz = _default_zone_name()
    if tz is UTC:
        tz = "UTC"
    if isinstance(tz, ZoneInfo) and tz.key:
        return validate_timezone(tz.key), tz
    if isinstance(tz, tzinfo):
        name = getattr(tz, "key", None) or getattr(tz, "zone", None)
        if not isinstance(name, str):
            raise InvalidSchedule(
                f"time zone must be a name such as 'Europe/London' or a ZoneInfo, got {tz!r}"
            )
        tz = name
    name = validate_timezone(tz)
    return name, ZoneInfo(name)


def _to_utc(value: datetime, what: str = "after") -> datetime:
    """The same instant in UTC; naive datetimes are refused since their instant is unknown."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (with a time zone), got {value!r}")
    return value.astimezone(UTC)


def _utc(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def _offsets(naive: datetime, zone: tzinfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of a wall time read before (fold=0) and after (fold=1) a transition."""
    early = naive.replace(tzinfo=zone, fold=0).utcoffset()
    late = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert early is not None and late is not None
    return early, late


def _repeat_width(naive: datetime, zone: tzinfo) -> timedelta:
    """How long the clocks went back by, if this wall time happens twice; else zero."""
    early, late = _offsets(naive, zone)
    return max(early - late, timedelta(0))


def _gap_end(naive: datetime, zone: tzinfo, early: timedelta, late: timedelta) -> datetime:
    """The instant the clocks jumped forward over the skipped wall time ``naive``."""
    before = naive - late  # earlier than the jump: still on the old offset
    after = naive - early  # at or later than the jump: on the new offset
    while after - before > _SECOND:
        middle = before + _SECOND * ((after - before) // _SECOND // 2)
        if _utc(middle).astimezone(zone).utcoffset() == early:
            before = middle
        else:
            after = middle
    return _utc(after)


def _firing_instants(naive: datetime, zone: tzinfo, wildcard: bool) -> list[datetime]:
    """The instants at which a job matching local wall time ``naive`` runs (cronie's rules)."""
    early, late = _offsets(naive, zone)
    if early == late:
        return [_utc(naive - early)]
    if early > late:  # clocks went back: the wall time happens twice
        first = _utc(naive - early)
        return [first, _utc(naive - late)] if wildcard else [first]
    # Clocks went forward: the wall time never happens.
    return [] if wildcard else [_gap_end(naive, zone, early, late)]


# Schedules


class Schedule(ABC):
    """What every schedule offers; build one with :func:`parse_schedule`."""

    expression: str
    timezone: str
    is_interval: bool
    is_wildcard_time: bool
    interval: timedelta | None

    @abstractmethod
    def next_after(self, after: datetime) -> datetime:
        """The first run strictly after ``after`` (aware), as an aware UTC datetime."""

    @abstractmethod
    def describe(self) -> str:
        """The schedule in plain English."""

    def next_slot(self, after: datetime, anchor: datetime | None = None) -> datetime:
        """The next run for a job created at ``anchor``; only intervals use the anchor."""
        return self.next_after(after)

    def next_runs(
        self, after: datetime, count: int = 5, anchor: datetime | None = None
    ) -> list[datetime]:
        """The next ``count`` runs strictly after ``after``, for previews."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        runs: list[datetime] = []
        current = after
        for _ in range(count):
            current = self.next_slot(current, anchor)
            runs.append(current)
        return runs


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """Runs every ``interval``; slots are counted from an anchor so they never drift."""

    expression: str
    timezone: str
    interval: timedelta
    is_interval: ClassVar[bool] = True
    is_wildcard_time: ClassVar[bool] = False

    def next_after(self, after: datetime) -> datetime:
        return _to_utc(after) + self.interval

    def next_slot(self, after: datetime, anchor: datetime | None = None) -> datetime:
        """The smallest ``anchor + k * interval`` (any integer k) strictly after ``after``."""
        if anchor is None:
            return self.next_after(after)
        after_utc, anchor_utc = _to_utc(after), _to_utc(anchor, "anchor")
        steps = (after_utc - anchor_utc) // self.interval + 1
        return anchor_utc + steps * self.interval

    def describe(self) -> str:
        count, word = int(self.expression[:-1]), _UNIT_WORDS[self.expression[-1]]
        return f"every {word}" if count == 1 else f"every {count} {word}s"


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
        after_utc = _to_utc(after)
        local = after_utc.astimezone(self.zone)
        cursor = local.replace(tzinfo=None, fold=0, second=0, microsecond=0)
        wildcard = self.fields.wildcard_time
        if wildcard and local.fold == 0:
            # In the first pass of a repeated hour, wall times just passed come round again.
            cursor -= _repeat_width(cursor, self.zone)
        best: datetime | None = None
        horizon: datetime | None = None
        while True:
            naive = self.fields.next_match(cursor)
            if naive is None or (horizon is not None and naive >= horizon):
                break
            for instant in _firing_instants(naive, self.zone, wildcard):
                if instant > after_utc and (best is None or instant < best):
                    best = instant
                    # A later wall time inside a repeated hour may still come earlier.
                    horizon = naive + _repeat_width(naive, self.zone)
            cursor = naive + _MINUTE
        if best is None:
            raise OverflowError(f"cron {self.expression!r} has no run after {after.isoformat()}")
        return best

    def describe(self) -> str:
        text = describe_fields(self.fields)
        if text is None:
            return f"cron {self.expression!r} in {self.timezone}"
        return text if self.timezone == "UTC" else f"{text} ({self.timezone})"


# Parsing


def _parse_interval(expression: str) -> timedelta:
    """``<whole number><s|m|h|d>`` with nothing around it, within 1 second to 365 days."""
    match = _INTERVAL_LIKE.match(expression)
    if match is None:
        raise InvalidSchedule(
            f"{expression!r} is not a schedule: expected an interval such as 30s, 5m, 2h or 1d "
            f"(a whole number followed by s, m, h or d) or a cron expression with 5 fields "
            f"({FIELD_NAMES})"
        )
    digits, unit = match.groups()
    if unit not in _UNIT_SECONDS:
        raise InvalidSchedule(
            f"unknown interval unit {unit!r} in {expression!r}; "
            "use s (seconds), m (minutes), h (hours) or d (days)"
        )
    if not digits.strip("0"):
        raise InvalidSchedule(f"interval must be at least 1 second, got {expression!r}")
    if digits.startswith("0"):
        hint = digits.lstrip("0") + unit
        raise InvalidSchedule(f"interval must not start with 0, got {expression!r}; write {hint!r}")
    if len(digits) > 8 or int(digits) * _UNIT_SECONDS[unit] > MAX_INTERVAL.total_seconds():
        raise InvalidSchedule(f"interval must be at most 365 days, got {expression!r}")
    if not _INTERVAL.match(expression):  # pragma: no cover - the checks above cover it
        raise InvalidSchedule(f"{expression!r} is not a valid interval")
    return timedelta(seconds=int(digits) * _UNIT_SECONDS[unit])


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
        interval = _parse_interval(expr)
        name, _ = _resolve_zone(tz)
        return IntervalSchedule(expression=expr, timezone=name, interval=interval)
    fields = parse_cron(expr)
    name, zone = _resolve_zone(tz)
    return CronSchedule(expression=fields.expression, timezone=name, fields=fields, zone=zone)

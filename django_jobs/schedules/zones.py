"""Time zones by name, and aware datetimes turned into UTC instants."""

from __future__ import annotations

from datetime import datetime, tzinfo
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..exceptions import InvalidSchedule

UTC = dt_timezone.utc


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


def resolve_zone(tz: str | tzinfo | None) -> tuple[str, tzinfo]:
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


def to_utc(value: datetime, what: str = "after") -> datetime:
    """The same instant in UTC; naive datetimes are refused since their instant is unknown."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (with a time zone), got {value!r}")
    return value.astimezone(UTC)

"""Formatting for the dashboard's figures: durations, ages, rates."""

from __future__ import annotations

from datetime import datetime

from django import template

register = template.Library()


@register.filter
def ms(value: float | None) -> str:
    """Milliseconds as "820 ms", "4.2 s", "3 min"."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    return f"{value / 60_000:.1f} min"


@register.filter
def age(seconds: float | None) -> str:
    """Seconds as "12 s", "4 min", "3 h", "2 d"."""
    if seconds is None:
        return "-"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


@register.filter
def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


@register.filter
def rate(value: float | None) -> str:
    """Runs per minute."""
    if value is None:
        return "-"
    return f"{value:.0f}/min" if value >= 10 else f"{value:.2f}/min"


@register.filter
def since(moment: datetime | None, now: datetime | None) -> float | None:
    """Seconds from ``moment`` to ``now``."""
    if not moment or not now:
        return None
    return max(0.0, (now - moment).total_seconds())

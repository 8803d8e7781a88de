"""How job values look in the admin: always escaped, never marked safe."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

from django.utils import dateformat
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.timezone import localtime

EMPTY = "-"
# Every instant in the admin: to the second, with its zone (Django's date format).
WHEN_FORMAT = "Y-m-d H:i:s T"

STATUS_COLOURS = {
    "pending": "#417690",
    "running": "#c77c02",
    "completed": "#2e7d32",
    "failed": "#ba2121",
    "cancelled": "#666666",
    "missed": "#8d6e63",
    "snoozed": "#5c6bc0",
}


def status_badge(status: str, label: str) -> SafeString:
    colour = STATUS_COLOURS.get(status, "#666666")
    return format_html(
        '<span class="django-jobs-status django-jobs-status-{}" style="color:#fff;'
        'background:{};padding:1px 7px;border-radius:9px;white-space:nowrap">{}</span>',
        status,
        colour,
        label,
    )


def as_json(value: Any) -> str:
    """Indented JSON, the way people read it; odd values fall back to their repr."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=repr)


def pre(text: str) -> SafeString | str:
    if not text:
        return EMPTY
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


def json_block(value: Any) -> SafeString:
    return format_html('<pre style="margin:0">{}</pre>', as_json(value))


def error_excerpt(error: str, width: int = 80) -> str:
    """The last line of a traceback says what went wrong; show that."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return EMPTY
    return Truncator(lines[-1].strip()).chars(width)


def duration_text(milliseconds: int | None) -> str:
    if milliseconds is None:
        return EMPTY
    if milliseconds < 1000:
        return f"{milliseconds} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def when(value: datetime | None, zone: tzinfo | None = None) -> str:
    """An instant in the current (or the given) time zone, to the second."""
    if value is None:
        return EMPTY
    return dateformat.format(localtime(value, zone), WHEN_FORMAT)


def when_wrapping(value: datetime | None) -> SafeString | str:
    """``when()`` that may break between the date and the time in a narrow column."""
    text = when(value)
    if value is None:
        return text
    day, _, clock = text.partition(" ")
    return format_html(
        '<span style="white-space:nowrap">{}</span> <span style="white-space:nowrap">{}</span>',
        day,
        clock,
    )


def result_excerpt(value: Any, width: int = 60) -> str:
    """A run's result on one line: compact JSON, cut to ``width``."""
    if value is None:
        return EMPTY
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    return Truncator(text).chars(width)

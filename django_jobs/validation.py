"""Field rules shared by the Python API, the REST API and the admin.

Each ``clean_*`` returns the normalised value or raises ``InvalidJob`` naming
its field, so every entry point rejects the same input with the same words.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from django.utils import timezone as dj_timezone

from .conf import jobs_settings
from .exceptions import InvalidJob, InvalidSchedule
from .registry import registry

NAME_MAX = 200
QUEUE_MAX = 64
PRIORITY_RANGE = (-32768, 32767)
TIMEOUT_MAX = 7 * 24 * 3600.0
# MariaDB's JSON check refuses 32 levels of nesting; the same bound holds on every database.
DATA_DEPTH_MAX = 31


def clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidJob("name", "name must be a non-empty string")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise InvalidJob("name", f"name must be at most {NAME_MAX} characters, got {len(name)}")
    _check_storable("name", name)
    return name


def clean_handler(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidJob("handler", "handler must be the name of a registered handler")
    registry.get(name)  # raises UnknownHandler
    return name


def clean_max_attempts(value: Any) -> int:
    if value is None:
        return int(jobs_settings.DEFAULT_MAX_ATTEMPTS)
    limit = int(jobs_settings.MAX_ATTEMPTS_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJob("max_attempts", "max_attempts must be a whole number")
    if not 1 <= value <= limit:
        raise InvalidJob("max_attempts", f"max_attempts must be between 1 and {limit}, got {value}")
    return value


def clean_priority(value: Any) -> int:
    if value is None:
        return 0
    low, high = PRIORITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidJob("priority", f"priority must be a whole number from {low} to {high}")
    return value


def clean_queue(value: Any) -> str:
    if value is None:
        return str(jobs_settings.DEFAULT_QUEUE)
    if not isinstance(value, str) or not value or len(value) > QUEUE_MAX or "," in value:
        raise InvalidJob(
            "queue", f"queue must be a non-empty name of at most {QUEUE_MAX} characters, no commas"
        )
    _check_storable("queue", value)
    return value


def _check_storable(field: str, text: str) -> None:
    """No NUL and no lone surrogate: PostgreSQL and MariaDB refuse to store either."""
    if "\x00" in text:
        raise InvalidJob(field, f"{field} must not contain a NUL character (\\u0000)")
    if not text.isascii() and _SURROGATE.search(text):
        raise InvalidJob(field, f"{field} must be Unicode text, without lone surrogates")


check_storable = _check_storable  # for text that is only compared, such as a filter


def clean_seconds(field: str, value: Any) -> float | None:
    """A positive number of seconds (``timeout``, ``misfire_grace``) or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidJob(field, f"{field} must be a number of seconds")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidJob(field, f"{field} must be a number of seconds")
    if not 0 < value <= TIMEOUT_MAX:
        raise InvalidJob(
            field, f"{field} must be more than 0 and at most {int(TIMEOUT_MAX)} seconds"
        )
    return float(value)


def clean_data(data: Any, *, limit: int | None = None) -> Any:
    """JSON every database stores and, when ``limit`` is given, at most that many bytes."""
    data_json(data, limit=limit)
    return data


def data_json(data: Any, *, limit: int | None = None) -> str:
    """``data`` as the JSON text stored for it; raises ``InvalidJob`` as ``clean_data`` does.

    Refused: nesting deeper than ``DATA_DEPTH_MAX``, NUL characters and lone
    surrogates in any string or key (PostgreSQL's ``jsonb`` and MariaDB's JSON
    check refuse them), and anything ``json`` cannot encode. The checks read the
    encoded text; only a suspect one is walked, to say where the fault is.
    """
    try:
        encoded = json.dumps(data, allow_nan=False)
    except RecursionError:
        raise InvalidJob("data", DEPTH_MESSAGE) from None
    except (TypeError, ValueError) as exc:
        raise InvalidJob("data", f"data must be JSON-serialisable: {exc}") from None
    if json_too_deep(encoded, DATA_DEPTH_MAX):
        raise InvalidJob("data", DEPTH_MESSAGE)
    if _SUSPECT_ESCAPE.search(encoded):
        _check_strings(data)
    if limit is not None and len(encoded.encode()) > limit:
        raise InvalidJob("data", f"data must be at most {limit} bytes of JSON")
    return encoded


DEPTH_MESSAGE = f"data must be nested at most {DATA_DEPTH_MAX} levels deep"
# How json.dumps (ASCII output) writes a NUL or any surrogate; emoji are surrogate pairs.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|d[89a-f])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_strings(data: Any) -> None:
    """Find the string or key holding a NUL or a lone surrogate, if one does."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, path, "a string")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    _check_text(key, (*path, key), "a key")
                stack.append((item, (*path, key)))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))


def _check_text(text: str, path: tuple[Any, ...], what: str) -> None:
    if "\x00" in text:
        fault = "a NUL character (\\u0000)"
    elif _SURROGATE.search(text):
        fault = "a lone surrogate (\\ud800-\\udfff): not Unicode text"
    else:
        return
    where = "data" + "".join(f"[{step!r}]" for step in path)
    raise InvalidJob("data", f"{what} at {where} holds {fault}")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_too_deep(text: str, limit: int) -> bool:
    """Whether JSON ``text`` nests more than ``limit`` levels, found without parsing it.

    Parsers recurse once per level: checking this first keeps a deep body from
    reaching the interpreter's recursion limit. Brackets inside strings do not
    count; an unmatched closing bracket ends the count, as it ends any parse.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
        if depth < 0:
            return False
    return False


def parse_data_text(text: str) -> Any:
    """Typed-in JSON (the admin's data field) parsed and checked like any ``data``."""
    if json_too_deep(text, DATA_DEPTH_MAX):
        raise InvalidJob("data", DEPTH_MESSAGE)
    try:
        data = json.loads(text)
    except ValueError as exc:  # malformed, or a number too long to convert
        raise InvalidJob("data", f"data is not valid JSON: {exc}") from None
    return clean_data(data)


def clean_timezone(name: Any) -> str:
    if name in (None, ""):
        return ""
    from .schedules import validate_timezone

    try:
        return validate_timezone(name)
    except InvalidSchedule as exc:
        raise InvalidJob("timezone", str(exc)) from None


def clean_schedule(expression: Any, tz: str = "") -> str:
    """The normalised expression; raises ``InvalidSchedule`` (a ValueError) with its reason."""
    from .schedules import parse_schedule

    if expression in (None, ""):
        return ""
    return parse_schedule(expression, tz or None).expression


def clean_run_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidJob("run_at", "run_at must be a datetime")
    if dj_timezone.is_naive(value):
        raise InvalidJob("run_at", "run_at must be time-zone aware (include an offset)")
    return value


UNIQUE_KEY_MAX = 200
ON_CONFLICT = ("return", "raise")


def clean_unique_key(value: Any) -> str | None:
    """None (no key) or a non-empty string of at most ``UNIQUE_KEY_MAX`` characters."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value
        or len(value) > UNIQUE_KEY_MAX
        or "\x00" in value
        or _SURROGATE.search(value)
    ):
        raise InvalidJob(
            "unique_key",
            f"unique_key must be a non-empty string of at most {UNIQUE_KEY_MAX} characters, "
            "without NUL or lone surrogates",
        )
    return value


def clean_on_conflict(value: Any) -> str:
    if value is None:
        return "return"
    if value not in ON_CONFLICT:
        raise InvalidJob("on_conflict", f"on_conflict must be one of {', '.join(ON_CONFLICT)}")
    return value

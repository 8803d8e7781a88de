"""What kind of error a stored error text is: the one rule the dead-job filters and the
dashboard's failure groups share.

The worker stores a failure as ``"ValueError: message"`` followed by the
traceback, so the kind is the text before the first colon. ``error_type_of``
reads it in Python (and gives ``""`` where the text names no exception class:
an error the worker wrote itself); ``error_kind`` is the same cut as a SQL
expression, for grouping rows in the database.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Left, StrIndex

# A class name, optionally dotted: what ``format_error`` puts before the first colon.
ERROR_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# The kind of an empty error text, in the dashboard's groups.
NO_ERROR = "(no error text)"
KIND_LENGTH = 200  # FailureHour.error_type


def error_type_of(last_error: str) -> str:
    """The exception class a stored error begins with, or ``""`` if it names none."""
    head, colon, _ = (last_error or "").partition(":")
    return head if colon and ERROR_TYPE.fullmatch(head) else ""


def has_error_type(error_type: str, column: str = "last_error") -> Q:
    """Rows whose error text in ``column`` is of this exception class."""
    return Q(**{f"{column}__startswith": f"{error_type}:"})


def error_kind(column: str) -> Any:
    """The text before the first colon of an error column, as a SQL expression."""
    colon = StrIndex(column, Value(":"))
    kind = Case(
        When(**{column: ""}, then=Value(NO_ERROR)),
        When(**{f"{column}__contains": ":"}, then=Left(column, colon - 1)),
        default=Left(column, 80),
        output_field=CharField(),
    )
    return Left(kind, KIND_LENGTH)

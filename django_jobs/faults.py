"""Telling a database that is gone apart from a database that refuses a value.

A lost connection (the server restarted, the network dropped) is an outage:
the worker keeps what it has not written and tries again later, and
retrying the same statement is right. A statement the database refuses
because of the values in it (``DataError``, ``IntegrityError``, text the
driver cannot encode) fails the same way however often it is retried; the
batch is then written row by row, so that only the offending job fails.
"""

from __future__ import annotations

import enum

from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
)


class Fault(enum.Enum):
    """What a failed database step means for the worker."""

    # The connection is lost: keep everything, reconnect, try again later.
    OUTAGE = "outage"
    # The database refused a value: retry row by row, fail the row it refuses.
    REFUSED = "refused"
    # Anything else (a lock timeout, a deadlock, a bug): retry later, but bounded.
    OTHER = "other"


# Raised by drivers while encoding parameters (lone surrogates, NUL on PostgreSQL).
_ENCODING_ERRORS = (UnicodeError, ValueError, OverflowError)


def classify(exc: BaseException, using: str) -> Fault:
    """The kind of ``exc``, raised by a statement on the database ``using``."""
    if isinstance(exc, InterfaceError) or (
        isinstance(exc, OperationalError) and not _usable(using)
    ):
        return Fault.OUTAGE
    if isinstance(exc, (DataError, IntegrityError, *_ENCODING_ERRORS)):
        return Fault.REFUSED
    return Fault.OTHER


def refused(exc: BaseException, using: str) -> bool:
    """True when the database refused the values of the statement, not the statement."""
    return classify(exc, using) is Fault.REFUSED


def describe(exc: BaseException) -> str:
    """One storable line saying what the database refused."""
    from .storable import storable_text

    text = " ".join(str(exc).split())[:500]
    return storable_text(f"{type(exc).__name__}: {text}")[0]


def _usable(using: str) -> bool:
    connection = connections[using]
    if connection.connection is None:
        return False
    try:
        return bool(connection.is_usable())
    except DatabaseError:
        return False

"""Running one handler and describing what happened, without touching the database.

``execute`` runs in a pool thread or in a pool's child process; it never
raises, and what it returns (an ``Outcome``) is all the worker learns.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from ..exceptions import Snooze, Steer
from ..models import UnreadableData
from ..outcomes import Outcome
from ..progress import Reporter
from ..registry import registry
from ..storable import storable_result, storable_text

logger = logging.getLogger("django_jobs.job")


class CancelFlag:
    """Set once by the worker's thread, read by the handler's: a plain attribute will do.

    One is made for every job, so it is cheaper than a ``threading.Event``.
    """

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


@dataclass
class JobContext:
    """The optional second argument of a handler."""

    job_id: int
    name: str
    attempt: int
    max_attempts: int
    scheduled_for: datetime | None
    logger: logging.Logger
    # Completed dependencies: job id -> result of its last successful run.
    dependency_results: dict[int, Any] = field(default_factory=dict)
    # The database alias the job lives in (its progress is written there).
    using: str = "default"
    _cancel: CancelFlag = field(default_factory=lambda: CancelFlag(), repr=False)
    _progress: Reporter | None = field(default=None, repr=False)

    @property
    def cancelled(self) -> bool:
        """True once somebody cancelled the job; a long handler should check and return."""
        return self._cancel.is_set()

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Store how far the job got (0 to 1) and what it is doing; call it as often as you like.

        At most one write a second per job reaches the database, from a thread
        of its own; the last value is written when the attempt ends. A fraction
        outside 0..1 raises ``ValueError``; the message is cut to 200 characters.
        """
        if self._progress is None:
            self._progress = Reporter(self.job_id, self.attempt, self.using)
        self._progress.report(fraction, message)

    def end_progress(self) -> None:
        """Write the last progress reported, if any (the attempt ended)."""
        if self._progress is not None:
            self._progress.end()

    def __reduce__(self) -> tuple[type[JobContext], tuple[object, ...]]:
        # Crosses into a pool process without its cancel flag: there,
        # cancellation kills the process instead of setting a flag.
        fields = (self.job_id, self.name, self.attempt, self.max_attempts, self.scheduled_for)
        return (type(self), (*fields, self.logger, self.dependency_results, self.using))


def execute(handler_name: str, data: Any, ctx: JobContext) -> Outcome:
    """Run the handler and catch everything it can throw, ``BaseException`` included."""
    _drop_broken_connections()
    # A connection already in a transaction is the caller's (the test helper
    # runs handlers on a TestCase's connection): it is left as it is.
    callers = {c.alias for c in connections.all(initialized_only=True) if c.in_atomic_block}
    started = timezone.now()
    clock = time.perf_counter()
    try:
        entry = registry.get(handler_name)
        if isinstance(data, UnreadableData):
            raise ValueError(f"data is not valid JSON: {str(data)[:200]!r}")
        args = (data, ctx) if entry.takes_ctx else (data,)
        if entry.is_async:
            value = asyncio.run(entry.handler(*args))
        else:
            value = entry.handler(*args)
        result, note = storable_result(value)
        outcome = Outcome(ctx.job_id, True, started, timezone.now(), 0, result=result, note=note)
    except BaseException as exc:
        # A snooze is no error: its row says so in one line, without a traceback.
        text = f"Snooze: {exc}" if isinstance(exc, Snooze) else format_error(exc)
        error, note = storable_text(text)
        outcome = Outcome(ctx.job_id, False, started, timezone.now(), 0, error=error, note=note)
        if isinstance(exc, Steer):
            outcome.steer, outcome.delay = exc.kind, exc.seconds
        if isinstance(exc, DatabaseError):
            _discard_broken_connections(callers)
    outcome.duration_ms = int((time.perf_counter() - clock) * 1000)
    _end_open_transactions(callers)
    ctx.end_progress()
    return outcome


def format_error(exc: BaseException) -> str:
    try:
        message = str(exc)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception as failure:  # a broken __str__, an integer too long to print
        message = detail = f"<the error cannot be shown: {type(failure).__name__}: {failure}>"
    return f"{type(exc).__name__}: {message}\n\n{detail}"


def _end_open_transactions(keep: set[str]) -> None:
    # A handler that leaves a transaction open or a connection broken must not
    # poison the next job this thread runs. Otherwise a job ends like a Django
    # request: CONN_MAX_AGE and CONN_HEALTH_CHECKS decide whether to keep it.
    for conn in connections.all(initialized_only=True):
        if conn.alias in keep:
            continue
        if conn.in_atomic_block:
            _abandon_atomic(conn)
        elif conn.needs_rollback:
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()


def _abandon_atomic(conn: BaseDatabaseWrapper) -> None:
    """Forget atomic blocks a handler never left; closing the connection rolls them back."""
    conn.in_atomic_block = False
    conn.savepoint_ids = []
    conn.atomic_blocks = []
    conn.savepoint_state = 0
    conn.commit_on_exit = True
    conn.needs_rollback = False
    conn.closed_in_transaction = False
    conn.close()


def _drop_broken_connections() -> None:
    # A handler may break this thread's connection without Django noticing
    # (its socket shut, the server session killed): test a kept connection
    # before the next handler gets it.
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.is_usable():
            conn.close()


def _discard_broken_connections(keep: set[str]) -> None:
    for conn in connections.all(initialized_only=True):
        if conn.alias not in keep:
            conn.close_if_unusable_or_obsolete()

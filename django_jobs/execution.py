"""Running one handler and describing what happened, without touching the database."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections
from django.utils import timezone

from .registry import registry

logger = logging.getLogger("django_jobs.job")


@dataclass
class JobContext:
    """The optional second argument of a handler."""

    job_id: int
    name: str
    attempt: int
    max_attempts: int
    scheduled_for: datetime | None
    logger: logging.Logger
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cancelled(self) -> bool:
        """True once somebody cancelled the job; a long handler should check and return."""
        return self._cancel.is_set()


@dataclass
class Outcome:
    job_id: int
    ok: bool
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    result: Any = None
    error: str = ""


def execute(handler_name: str, data: Any, ctx: JobContext) -> Outcome:
    """Run the handler and catch everything it can throw, ``BaseException`` included."""
    started = timezone.now()
    clock = time.perf_counter()
    try:
        entry = registry.get(handler_name)
        args = (data, ctx) if entry.takes_ctx else (data,)
        if entry.is_async:
            value = asyncio.run(entry.handler(*args))
        else:
            value = entry.handler(*args)
        outcome = Outcome(ctx.job_id, True, started, timezone.now(), 0, result=jsonable(value))
    except BaseException as exc:
        outcome = Outcome(ctx.job_id, False, started, timezone.now(), 0, error=format_error(exc))
        if isinstance(exc, DatabaseError):
            _discard_broken_connections()
    outcome.duration_ms = int((time.perf_counter() - clock) * 1000)
    _end_open_transactions()
    return outcome


def format_error(exc: BaseException) -> str:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {exc}\n\n{detail}"


def jsonable(value: Any) -> Any:
    """The value if JSON can hold it; otherwise its text, with a note saying so."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError) as exc:
        return {"repr": repr(value)[:10_000], "note": f"result is not JSON-serialisable: {exc}"}


def _end_open_transactions() -> None:
    # A handler that leaves a transaction open or a connection broken must not
    # poison the next job this thread runs.
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block or conn.needs_rollback:
            conn.close()


def _discard_broken_connections() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()

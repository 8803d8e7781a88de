"""A running job's progress (``ctx.progress``): throttled, written by a thread of its own.

The handler only hands the latest value over; one thread per process writes
it, at most once per ``THROTTLE`` seconds per job, in a short autocommit
UPDATE of its own: never inside the handler's transactions nor the outcome's,
and a database error costs the handler nothing (it is logged). The last value
is written when the attempt ends, before its outcome. Each write is fenced by
the attempt, so a late one never lands on a job that moved on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import close_old_connections, connections
from django.utils import timezone

logger = logging.getLogger("django_jobs.worker")

# Seconds between two writes of one job's progress.
THROTTLE = 1.0
# How long the end of an attempt waits for its last value to be written.
FINAL_WAIT = 5.0


def clean(fraction: float, message: str | None) -> tuple[float, str]:
    """A fraction in [0, 1] (else ``ValueError``) and the message cut to its column's size."""
    from .models import Job

    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise ValueError(f"progress must be a number from 0 to 1, not {fraction!r}")
    value = float(fraction)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"progress must be from 0 to 1, not {fraction!r}")
    size = Job.PROGRESS_MESSAGE_SIZE
    return value, ("" if message is None else str(message))[:size]


@dataclass
class Reporter:
    """One attempt's side: keeps the latest value, hands it over at most once per ``THROTTLE``."""

    job_id: int
    attempt: int
    using: str
    _latest: tuple[float, str, datetime] | None = None
    _handed: tuple[float, str, datetime] | None = None
    _last: float = field(default=-math.inf)
    _done: threading.Event | None = None

    def report(self, fraction: float, message: str | None) -> None:
        self._latest = (*clean(fraction, message), timezone.now())
        clock = time.monotonic()
        if clock - self._last >= THROTTLE:
            self._last = clock
            self._hand_over(wait=False)

    def end(self) -> None:
        """The attempt ended: its last value is written before its outcome."""
        if self._latest is not None and self._latest is not self._handed:
            self._hand_over(wait=True)
        elif self._done is not None:
            self._done.wait(FINAL_WAIT)

    def _hand_over(self, wait: bool) -> None:
        assert self._latest is not None
        self._handed = self._latest
        self._done = writer().put(self, self._latest, wait)


class Writer:
    """The process's progress thread: the latest value of each job, written in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._todo: dict[int, tuple[Reporter, tuple[float, str, datetime], threading.Event]] = {}
        self._thread: threading.Thread | None = None
        self.writes = 0  # UPDATE statements sent, for tests and figures

    def put(
        self, reporter: Reporter, value: tuple[float, str, datetime], wait: bool
    ) -> threading.Event:
        """Queue ``value`` (replacing one not written yet); the event is set once it is written."""
        done = threading.Event()
        with self._lock:
            self._todo[reporter.job_id] = (reporter, value, done)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="django-jobs-progress", daemon=True
                )
                self._thread.start()
        self._wake.set()
        if wait:
            done.wait(FINAL_WAIT)
        return done

    def _run(self) -> None:
        while True:
            self._wake.wait(60)
            self._wake.clear()
            with self._lock:
                todo, self._todo = self._todo, {}
            for reporter, value, done in todo.values():
                try:
                    self._write(reporter, value)
                except Exception:
                    logger.warning(
                        "could not write progress job=%s", reporter.job_id, exc_info=True
                    )
                    connections[reporter.using].close()
                finally:
                    done.set()
            close_old_connections()

    def _write(self, reporter: Reporter, value: tuple[float, str, datetime]) -> None:
        from .models import Job, JobStatus

        fraction, message, at = value
        self.writes += 1
        Job.objects.using(reporter.using).filter(
            pk=reporter.job_id, status=JobStatus.RUNNING, attempts=reporter.attempt
        ).update(progress=fraction, progress_message=message, progress_at=at)


_writer = Writer()


def describe(progress: float | None, message: str) -> str:
    """How a job's progress reads in the admin and the dashboard: "42% importing rows"."""
    if progress is None:
        return ""
    percent = f"{progress * 100:.0f}%"
    return f"{percent} {message}" if message else percent


def writer() -> Writer:
    return _writer

"""The worker's guard around its database steps: outages are waited out, other failures bounded.

An outage (the connection is lost) is waited out for as long as it lasts:
the worker keeps what it has not written and backs off. A step failing for
any other reason is retried too, since a lock timeout or a deadlock passes,
but a worker whose step keeps failing that way for longer than
``STALL_TIMEOUT`` seconds stops claiming and says why, instead of spinning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connections

from ..conf import jobs_settings
from ..faults import Fault, classify

logger = logging.getLogger("django_jobs.worker")

T = TypeVar("T")


class Guard:
    """Runs database steps for one worker and keeps what their failures mean."""

    def __init__(self, using: str) -> None:
        self.using = using
        # False after a failed step, until the next heartbeat succeeds.
        self.healthy = True
        self.backoff = 0.0
        # Monotonic time before which peers are not declared dead (they were cut off too).
        self.recover_after = 0.0
        # A claim whose commit was cut off may have committed all the same.
        self.lost_connection = False
        # Why the worker stopped claiming, once a step failed for too long; "" until then.
        self.halted = ""
        self._failing: dict[str, float] = {}

    def run(self, name: str, step: Callable[[], T]) -> T | None:
        """What ``step()`` returns, or None when it failed (then logged and accounted for).

        ``name`` says what the step does, in the log and in ``halted``; a step
        failing for too long is counted by it.
        """
        try:
            result = step()
        except Exception as exc:
            if classify(exc, self.using) is Fault.OUTAGE:
                self._outage(name)
            else:
                self._failure(name, exc)
            return None
        self.backoff = 0.0
        self._failing.pop(name, None)
        return result

    def _outage(self, name: str) -> None:
        self.healthy = False
        self._back_off()
        # Peers were cut off too: give them one WORKER_TIMEOUT to heartbeat
        # again before declaring anybody dead.
        self.recover_after = time.monotonic() + float(jobs_settings.WORKER_TIMEOUT)
        self.lost_connection = True
        logger.warning(
            "database unavailable during %s; retrying in %.1fs", name, self.backoff, exc_info=True
        )
        try:
            connections[self.using].close()
        except DatabaseError:
            pass

    def _failure(self, name: str, exc: Exception) -> None:
        self.healthy = False
        self._back_off()
        now = time.monotonic()
        since = self._failing.setdefault(name, now)
        logger.error(
            "%s failed (not an outage): %s: %s; retrying in %.1fs",
            name,
            type(exc).__name__,
            exc,
            self.backoff,
            exc_info=True,
        )
        limit = float(jobs_settings.STALL_TIMEOUT)
        if now - since >= limit and not self.halted:
            self.halted = (
                f"{name} has failed for {now - since:.0f}s for a reason other than a lost "
                f"connection ({type(exc).__name__}: {exc}); the worker stops claiming"
            )
            logger.critical("worker halted: %s", self.halted)

    def _back_off(self) -> None:
        # Reconnect well within WORKER_TIMEOUT, so an outage the database
        # recovers from quickly does not make live workers look dead.
        cap = min(30.0, max(0.5, float(jobs_settings.WORKER_TIMEOUT) / 4))
        self.backoff = min(cap, max(0.5, self.backoff * 2))

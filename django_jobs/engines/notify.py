"""Waking workers when jobs arrive; a hint only, polling stays the safety net.

Two ways, both after the transaction commits: LISTEN/NOTIFY on PostgreSQL
(workers on any machine), and elsewhere a datagram to the workers on this
machine (``engines.local``). Workers in the announcing process are woken
directly on every database.

A NOTIFY sent inside a transaction is delivered when it commits and dropped
when it rolls back, and PostgreSQL folds identical notifications of one
transaction into one: that is the debounce for bulk enqueues.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.db import connections, router

from . import for_alias, local

logger = logging.getLogger("django_jobs.notify")

CHANNEL = "django_jobs"
ALL_QUEUES = "*"


def _alias() -> str:
    from ..models import Job

    return router.db_for_write(Job)


def enabled(alias: str | None = None) -> bool:
    """Whether workers of ``alias`` (default: where jobs are written) can be woken."""
    return for_alias(alias or _alias()).notifies()


def job_available(
    queues: Iterable[str] | None, *, notified: bool = False, alias: str | None = None
) -> None:
    """Tell listening workers that jobs in ``queues`` (None: any) are due.

    ``notified``: the statement that made them due sent the NOTIFY already;
    ``alias``: the database they were written to (default: where jobs are written).
    """
    alias = alias or _alias()
    engine = for_alias(alias)
    notifies = engine.notifies()
    queues = sorted(set(queues)) if queues is not None else None
    if notifies and not notified:
        engine.notify(queues if queues is not None else [ALL_QUEUES])
    if notifies and not local.waiting(alias):
        return  # the database wakes every worker; none in this process waits nearer
    local.announce(alias, queues)


def listeners(
    wake: threading.Event, queues: set[str] | None, alias: str
) -> tuple[Listener | None, local.Listener | None]:
    """Start what sets ``wake`` when a job for ``queues`` (None: any) may be due."""
    database = Listener(wake, queues, alias) if enabled(alias) else None
    if database is not None:
        database.start()
    nearby = local.Listener(wake, queues, alias) if local.enabled() else None
    if nearby is not None:
        nearby.start()
    return database, nearby


class Listener(threading.Thread):
    """Waits on its own connection and sets ``wake`` when a relevant job arrives."""

    def __init__(self, wake: threading.Event, queues: set[str] | None, alias: str) -> None:
        super().__init__(name="django-jobs-listener", daemon=True)
        self.wake = wake
        self.queues = queues
        self.alias = alias
        self._halt = threading.Event()
        # Set while a LISTEN is in place; tests wait for it.
        self.listening = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            logger.info("psycopg 3 is not installed; workers poll without wake-ups")
            return
        while not self._halt.is_set():
            try:
                self._listen()
            except Exception:
                logger.debug("listener connection lost; reconnecting", exc_info=True)
                self.wake.set()
                self._halt.wait(1.0)

    def _listen(self) -> None:
        import psycopg

        params = connections[self.alias].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("server_side_binding", None)
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            # Jobs enqueued while no LISTEN was in place sent nothing we heard.
            self.wake.set()
            while not self._halt.is_set():
                for note in conn.notifies(timeout=0.5, stop_after=1):
                    if self._relevant(note.payload):
                        self.wake.set()

    def _relevant(self, payload: str) -> bool:
        return self.queues is None or payload == ALL_QUEUES or payload in self.queues

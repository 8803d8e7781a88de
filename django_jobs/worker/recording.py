"""Finished attempts on their way to the database, and the log line each one gets.

An outcome stays in the outbox until it is written: a write cut off by an
outage loses none, the next one carries them all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..claimed import Claimed
from ..models import RunStatus
from ..outcomes import Finished, Outcome
from .slots import Slots

logger = logging.getLogger("django_jobs.worker")

Write = Callable[[list[Finished]], list[Finished]]


class Outbox:
    """Outcomes waiting to be written, in the order the attempts ended."""

    def __init__(self, slots: Slots) -> None:
        self.slots = slots
        self.items: list[Finished] = []
        # Attempts whose outcome was written (or dropped, the job no longer this worker's).
        self.finished = 0

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, claimed: Claimed, outcome: Outcome) -> None:
        self.items.append(Finished(claimed.job, outcome, run=claimed.run))

    def ids(self) -> set[int]:
        return {item.job.pk for item in self.items}

    def write(self, write: Write) -> None:
        """Write every waiting outcome with ``write``; if it raises, they all stay."""
        batch = self.items
        if batch:
            self.written(batch, write(batch))

    def written(self, batch: list[Finished], applied: list[Finished]) -> None:
        """``batch`` is written (``applied``: the outcomes that changed their job): log them."""
        self.items = self.items[len(batch) :]
        self.finished += len(batch)
        for item in batch:
            self.slots.observe(item.outcome.duration_ms)
        for item in applied:
            if item.history_status == RunStatus.FAILED:
                log_failure(item)
                continue
            logger.info(
                "job finished job=%s handler=%s status=%s duration_ms=%d",
                item.job.pk,
                item.job.handler,
                item.history_status,
                item.outcome.duration_ms,
            )


def log_failure(item: Finished) -> None:
    """One line a failed attempt: what failed, how, and whether it runs again."""
    job, outcome = item.job, item.outcome
    fields = {
        "job_id": job.pk,
        "job_name": job.name,
        "handler": job.handler,
        "queue": job.queue,
        "attempt": item.attempt,
        "max_attempts": job.max_attempts,
        "error_type": outcome.error_type,
        "error_message": outcome.error_message,
        "will_retry": item.will_retry,
        "duration_ms": outcome.duration_ms,
    }
    logger.warning(
        "job failed job=%s handler=%s attempt=%d/%d error=%s: %s will_retry=%s",
        job.pk,
        job.handler,
        item.attempt,
        job.max_attempts,
        outcome.error_type or "Error",
        outcome.error_message,
        item.will_retry,
        extra=fields,
    )

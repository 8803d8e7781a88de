"""What an attempt did (``Outcome``) and what happens to its job and history row after it.

The one place that decides: an attempt that succeeded, failed (retried or
not) or ended after somebody asked to cancel it. Each engine writes what
``settle`` decided; PostgreSQL's one-statement completion applies the cancel
rule in SQL built from the same definitions (``Job.cancelled``, ``KEPT``),
and ``cancel_after`` puts the job in memory where the row is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .exceptions import Discard, RetryAfter, Snooze
from .models import CANCELLED, TRANSITION_FIELDS, Job, JobHistory, RunStatus
from .retry import retry_at_configured


@dataclass
class Outcome:
    """What one attempt did; its text and result are already storable (``storable``)."""

    job_id: int
    ok: bool
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    result: Any = None
    error: str = ""
    # What was changed to make the output storable, for the history row.
    note: str = ""
    # What the handler asked for by raising ``RetryAfter``, ``Discard`` or ``Snooze``
    # (their ``kind``), with the delay it gave; "" for any other end.
    steer: str = ""
    delay: float = 0.0

    @property
    def error_type(self) -> str:
        """The exception's class name: the error text starts with it."""
        head = self.error.split(":", 1)[0]
        return head if head.isidentifier() else ""

    @property
    def error_message(self) -> str:
        """The first line of the error, after its type."""
        first = self.error.split("\n", 1)[0]
        return first.split(": ", 1)[1] if ": " in first else first


@dataclass
class Finished:
    """An attempt's outcome on its way to the database, with what was decided for it."""

    job: Job
    outcome: Outcome
    # The attempt's history row, as claimed (``Claimed.run``); None without history.
    run: JobHistory | None = None
    history_status: str = ""
    will_retry: bool = False
    # The attempt's number: the job's own count changes with its transition.
    attempt: int = 0
    # The job's KEPT values as claimed, while its transition is not yet known to hold.
    claimed: list[Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.attempt:
            self.attempt = self.job.attempts


# Fields a cancelled attempt leaves as they were (besides ``updated_at``): all
# the transition fields cancelling does not set.
KEPT = [name for name in TRANSITION_FIELDS if name not in CANCELLED and name != "updated_at"]
_KEPT_ATTNAMES = [Job._meta.get_field(name).attname for name in KEPT]  # type: ignore[union-attr]
# A cancelled attempt that failed still records its error.
KEPT_UNLESS_FAILED = "last_error"


def settle(item: Finished, cancel_requested: bool, now: datetime) -> None:
    """Apply the outcome to the job (in memory): succeeded, failed (retried or not),
    snoozed, cancelled."""
    if cancel_requested:
        cancel_after(item, now)
        return
    job, outcome = item.job, item.outcome
    if outcome.ok:
        job.succeed(now)
        item.history_status = RunStatus.COMPLETED
        return
    if outcome.steer == Snooze.kind:
        job.snooze(now, now + timedelta(seconds=outcome.delay))
        item.history_status = RunStatus.SNOOZED
        return
    item.will_retry = job.fail(now, outcome.error, retry_time(outcome, now, job.attempts))
    item.history_status = RunStatus.FAILED


def retry_time(outcome: Outcome, now: datetime, attempt: int) -> datetime | None:
    """When a failed attempt is retried (if it has attempts left): the handler's delay
    (``RetryAfter``), never (``Discard``), or the configured backoff."""
    if outcome.steer == RetryAfter.kind:
        return now + timedelta(seconds=outcome.delay)
    if outcome.steer == Discard.kind:
        return None
    return retry_at_configured(now, attempt)


def settle_tentatively(item: Finished, now: datetime) -> None:
    """``settle`` as if nobody asked to cancel, keeping what a cancel would restore."""
    job = item.job
    item.claimed = [getattr(job, attname) for attname in _KEPT_ATTNAMES]
    settle(item, False, now)


def cancel_after(item: Finished, now: datetime) -> None:
    """Somebody cancelled the running job: it ends cancelled, neither retried nor rescheduled.

    The history row says completed when the handler still succeeded. A job
    settled tentatively first gets back the values it was claimed with.
    """
    job, outcome = item.job, item.outcome
    if item.claimed is not None:
        for attname, value in zip(_KEPT_ATTNAMES, item.claimed, strict=True):
            setattr(job, attname, value)
        item.claimed = None
    job.cancel(now)
    item.will_retry = False
    item.history_status = RunStatus.COMPLETED if outcome.ok else RunStatus.CANCELLED
    if not outcome.ok:
        setattr(job, KEPT_UNLESS_FAILED, outcome.error)
    if item.run is not None:
        item.run.status = item.history_status


def fill_history(item: Finished) -> None:
    """Write the decided status and the outcome into the attempt's history row, if any."""
    if item.run is not None:
        item.run.finish(item.history_status, item.outcome)

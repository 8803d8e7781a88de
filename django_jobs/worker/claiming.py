"""The worker's side of claiming: how many jobs to take, and what it does with them.

The statements are the engines' (``engines.claiming``, and ``engines.cycle``,
which writes waiting outcomes in the same round trip); here they are called
under the worker's guard. A claim returns ``Claimed`` records (each job with
its attempt's history row); slots of recurring jobs that allow overlap are
handed to child runs first (``overlap``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .. import limits
from ..claimed import Claimed
from ..conf import jobs_settings
from ..engines import claiming, cycle
from ..engines.completion import finish
from . import overlap
from .dispatch import failed

if TYPE_CHECKING:
    from .loop import WorkerLoop

UNAVAILABLE = "could not start the overlapping run: the database was unavailable"


def claim(worker: WorkerLoop, free: int, now: datetime) -> list[Claimed]:
    """Claim up to ``free`` jobs, writing waiting outcomes in the same round trip.

    With ``LIMITS`` set, limited jobs come from a pass of their own
    (``limits.claim``); the two passes take turns going first, so neither kind
    of job waits for the other to run out.
    """
    if not jobs_settings.LIMITS:
        return _claim(worker, free, now)
    worker.limits_first = first = not worker.limits_first
    if first and any(item.job.limit for item in worker.outbox.items):
        # Finished limited jobs free their slots first; other outcomes change no
        # limit's count and go with the claim below, in the same round trip.
        _write_outcomes(worker, now)
    limited = _claim_limited(worker, free, now) if first else []
    records = _claim(worker, free - len(limited), now) if free > len(limited) else []
    if not first and free > len(records):
        limited = _claim_limited(worker, free - len(records), now)
    return [*_spawn_overlapping(worker, limited, now), *records]


def _write_outcomes(worker: WorkerLoop, now: datetime) -> None:
    row, using = worker.own_row, worker.using
    worker.guard.run(
        "writing outcomes",
        lambda: worker.outbox.write(lambda batch: finish(row, batch, now, using)),
    )


def _claim_limited(worker: WorkerLoop, free: int, now: datetime) -> list[Claimed]:
    row, queues, using = worker.own_row, worker.queues, worker.using
    found = worker.guard.run(
        "the claim of limited jobs", lambda: limits.claim_pass(row, queues, free, now, using)
    )
    batch, worker.limits_open_at = found or ([], None)
    return batch


def _claim(worker: WorkerLoop, free: int, now: datetime) -> list[Claimed]:
    batch: list[Claimed] | None
    if worker.outbox:
        batch = _finish_and_claim(worker, free, now)
    else:
        row, queues, using = worker.own_row, worker.queues, worker.using
        batch = worker.guard.run("the claim", lambda: claiming.claim(row, queues, free, now, using))
    return _spawn_overlapping(worker, batch or [], now)


def _finish_and_claim(worker: WorkerLoop, free: int, now: datetime) -> list[Claimed]:
    batch, row, queues, using = worker.outbox.items, worker.own_row, worker.queues, worker.using
    result = worker.guard.run(
        "writing outcomes and the claim",
        lambda: cycle.finish_and_claim(row, batch, queues, free, now, using),
    )
    if result is None:
        return []  # the outcomes stay in the outbox and are written later
    applied, claimed = result
    worker.outbox.written(batch, applied)
    return claimed


def _spawn_overlapping(worker: WorkerLoop, batch: list[Claimed], now: datetime) -> list[Claimed]:
    """Hand claimed slots of jobs that allow overlap to child runs (see ``overlap``)."""
    if not any(overlap.overlaps(claimed.job) for claimed in batch):
        return batch
    row, using = worker.own_row, worker.using
    runs = worker.guard.run(
        "starting overlapping runs", lambda: overlap.spawn_runs(row, batch, now, using)
    )
    if runs is not None:
        return runs
    # Could not hand them over: fail this attempt, so they are retried, not stranded.
    kept = []
    for claimed in batch:
        if overlap.overlaps(claimed.job):
            worker.outbox.add(claimed, failed(claimed.job.pk, UNAVAILABLE, now))
        else:
            kept.append(claimed)
    return kept

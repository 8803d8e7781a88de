"""What a worker does every heartbeat interval, besides running jobs.

Each part is a function of the worker; ``Upkeep`` runs them in order, as
one guarded step: when the heartbeat cannot be written, nothing after it
runs, and the worker claims nothing until it can.

1. ``heartbeat``: prove this worker alive (register again if peers declared it dead).
2. ``read_switch``: whether the runner switch lets it claim.
3. ``forward_cancels``: tell running handlers somebody cancelled their job.
4. ``recover``: fail and retry the attempts of dead workers, and this worker's
   own claims that a dropped connection hid from it.
5. ``prune``: delete a few rows past ``RETENTION_DAYS`` / ``DEAD_RETENTION_DAYS`` now and then.
6. ``sample_queue_depth``: the dashboard's depth chart, once a minute a process.

Between rounds, after each pause, ``retire_due`` says whether the worker has
done its share (``--max-jobs``, ``--max-memory``) and should stop.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from .. import pruning
from ..conf import jobs_settings
from ..dashboard import sample_queue_depth
from ..models import Runner
from . import liveness

if TYPE_CHECKING:
    from .loop import WorkerLoop

logger = logging.getLogger("django_jobs.worker")

# Seconds between a worker's pruning rounds (see pruning.prune_configured).
PRUNE_EVERY = 60.0


class Upkeep:
    """Runs the parts once a heartbeat interval, or at once after a failed step."""

    def __init__(self, worker: WorkerLoop) -> None:
        self.worker = worker
        # Monotonic time of the next round.
        self.next_round = 0.0
        self.next_prune = 0.0

    def run(self, now: datetime, ahead: float = 0.0) -> None:
        """The round, if it is due within ``ahead`` seconds (or a step failed)."""
        clock = time.monotonic()
        if clock + ahead < self.next_round and self.worker.guard.healthy:
            return
        self.next_round = clock + jobs_settings.heartbeat_interval
        heartbeat(self.worker)
        read_switch(self.worker)
        forward_cancels(self.worker)
        recover(self.worker, now, clock)
        self.prune(clock)
        sample_queue_depth()  # does the work once a minute; never raises

    def seconds_left(self) -> float:
        """Until the next round is due."""
        return max(0.0, self.next_round - time.monotonic())

    def prune(self, clock: float) -> None:
        """Now and then, delete a few small batches of rows past their retention."""
        if clock < self.next_prune:
            return
        self.next_prune = clock + PRUNE_EVERY
        pruning.prune_configured(batch_size=500, max_batches=2)


def heartbeat(worker: WorkerLoop) -> None:
    """Refresh the heartbeat; a worker its peers declared dead registers again."""
    row = worker.own_row
    if not liveness.heartbeat(row, worker.using):
        logger.error("worker %s was declared dead; registering again", row.name)
        worker.row = liveness.register(worker.queues, worker.concurrency, worker.using)
    worker.guard.healthy = True


def read_switch(worker: WorkerLoop) -> None:
    worker.runner_on = Runner.is_running(worker.using)


def forward_cancels(worker: WorkerLoop) -> None:
    for pk in liveness.cancel_requests(worker.own_row, worker.using):
        entry = worker.slots.get(pk)
        if entry is not None:
            worker.dispatch.cancel(entry)


def recover(worker: WorkerLoop, now: datetime, clock: float) -> None:
    """Own claims a lost connection hid, then (once peers had time to return) dead workers'."""
    guard = worker.guard
    if guard.lost_connection:
        known = set(worker.slots.inflight) | worker.outbox.ids()
        liveness.recover_unconfirmed(worker.own_row, known, now, worker.using)
        guard.lost_connection = False
    if clock >= guard.recover_after:
        liveness.recover_lost(now, worker.using)


def retire_due(worker: WorkerLoop) -> bool:
    """Whether the worker claimed its ``max_jobs`` or grew past ``max_memory_mb``."""
    if worker.max_jobs is not None and worker.claimed >= worker.max_jobs:
        logger.info("worker retiring after %d jobs", worker.claimed)
        return True
    if worker.max_memory_mb is not None and _rss_mb() > worker.max_memory_mb:
        logger.info("worker retiring: resident memory above %s MB", worker.max_memory_mb)
        return True
    return False


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

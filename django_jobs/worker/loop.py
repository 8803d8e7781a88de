"""The worker loop: claim due jobs, hand them to a pool, write what they did.

Fetching and executing are separate pieces: the loop's thread alone talks to
the database for claims, upkeep and outcomes; pool threads only run
handlers. One iteration is ``loop(now)``, so tests drive it with a fixed time.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime
from functools import partial

from django.db import connections, router
from django.utils import timezone

from .. import signals
from ..conf import jobs_settings
from ..engines import local, notify
from ..engines.completion import finish
from ..models import Job, Runner
from ..models import Worker as WorkerRow
from . import claiming, liveness, release, upkeep
from .dispatch import Dispatch, timed_out
from .executors import Pool, make_pool
from .guard import Guard
from .recording import Outbox
from .slots import Slots
from .upkeep import Upkeep

logger = logging.getLogger("django_jobs.worker")


class WorkerLoop:
    """Runs jobs until stopped; many of them, in many processes, may share one database.

    The ``Worker`` model is the row each loop registers (its heartbeat).
    """

    def __init__(
        self,
        *,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        batch_size: int | None = None,
        poll_interval: float | None = None,
        max_jobs: int | None = None,
        max_memory_mb: float | None = None,
        listen: bool = True,
        using: str | None = None,
        pool: str | Pool = "thread",
        shutdown_grace: float | None = None,
    ) -> None:
        self.queues = sorted(set(queues)) if queues else None
        self.concurrency = int(concurrency or jobs_settings.CONCURRENCY)
        self.batch_size = int(batch_size or jobs_settings.BATCH_SIZE)
        poll = jobs_settings.POLL_INTERVAL if poll_interval is None else poll_interval
        self.poll_interval = float(poll)
        self.max_jobs, self.max_memory_mb, self.listen = max_jobs, max_memory_mb, listen
        self.using: str = using or router.db_for_write(Job)
        # Seconds in-flight jobs get once stopped; None: SHUTDOWN_GRACE.
        self.shutdown_grace = shutdown_grace
        self.row: WorkerRow | None = None
        self.claimed, self.runner_on = 0, True  # claimed since start: against ``max_jobs``
        self.guard = Guard(self.using)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool = make_pool(pool, self.concurrency)
        self.slots = Slots(self.concurrency, self.batch_size, prefetch=pool != "process")
        self.dispatch = Dispatch(self._pool, self.slots, self._wake)
        self.outbox = Outbox(self.slots)
        self.upkeep = Upkeep(self)
        self._free_before_claim = 0
        # Which claim pass goes first this cycle when LIMITS is set (worker.claiming).
        self.limits_first = False
        # When a rate whose window was full lets a job start again (limits.claim_pass).
        self.limits_open_at: datetime | None = None
        self._listener: notify.Listener | None = None
        self._local: local.Listener | None = None  # this machine's wake-ups

    @property
    def own_row(self) -> WorkerRow:
        """The row this worker registered (``start()`` registers it)."""
        if self.row is None:
            raise RuntimeError("the worker has not started")
        return self.row

    # Life cycle ------------------------------------------------------------

    def start(self) -> None:
        self.row = liveness.register(self.queues, self.concurrency, self.using)
        self.runner_on = Runner.is_running(self.using)
        if self.listen:
            queues = set(self.queues or []) or None
            self._listener, self._local = notify.listeners(self._wake, queues, self.using)
        signals.worker_started.send_robust(sender=WorkerRow, worker=self.row)
        logger.info(
            "worker started name=%s queues=%s concurrency=%d",
            self.row.name,
            ",".join(self.queues or ["*"]),
            self.concurrency,
        )

    def run(self) -> None:
        """Run until ``stop()`` (SIGTERM and SIGINT call it), then shut down cleanly."""
        self.start()
        try:
            while not self._stopping.is_set():
                took = self.loop()
                if took and took == self._free_before_claim:
                    continue  # there is probably more due right now
                self._sleep()
                if upkeep.retire_due(self) or self.halted:
                    self.stop()
        finally:
            self.shutdown()

    def run_once(self, now: datetime | None = None) -> int:
        """Run everything due at ``now`` (default: the current time), then return.

        Returns the number of attempts that finished.
        """
        now = now or timezone.now()
        self.start()
        try:
            while not self.halted:
                if self.loop(now):
                    continue
                if not self.slots and not self.outbox:
                    # Idle: one more claim with every slot free decides whether all is done.
                    if not self.loop(now) and not self.slots and not self.outbox:
                        break
                    continue
                self._pause(0.05)
        finally:
            self.shutdown(grace=None)
        return self.finished

    def stop(self) -> None:
        """Stop claiming; in-flight jobs get ``SHUTDOWN_GRACE`` seconds to finish."""
        self._stopping.set()
        self._wake.set()

    @property
    def finished(self) -> int:
        """Attempts whose outcome this worker wrote since it started."""
        return self.outbox.finished

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def halted(self) -> str:
        """Why the worker stopped claiming after a step kept failing ("" while it has not)."""
        return self.guard.halted

    def shutdown(self, grace: float | None = -1.0) -> None:
        """Wait for in-flight jobs (``grace`` seconds, None: forever), put back the rest."""
        self._drain(self._grace(grace))
        self.guard.run("putting back unfinished jobs", self._put_back)
        if self._listener:
            self._listener.stop()
            self._listener.join(timeout=2.0)
        if self._local:
            self._local.stop()
        self.dispatch.shutdown()
        if self.row is not None:
            row = self.row
            self.guard.run("unregistering", partial(liveness.unregister, row, self.using))
            signals.worker_stopped.send_robust(sender=WorkerRow, worker=row)
            logger.info("worker stopped name=%s finished=%d", row.name, self.finished)
        if not connections[self.using].in_atomic_block:  # never end a caller's transaction
            connections[self.using].close()

    def _grace(self, grace: float | None) -> float | None:
        if grace is None or grace >= 0:
            return grace
        grace = self.shutdown_grace
        return float(jobs_settings.SHUTDOWN_GRACE if grace is None else grace)

    def _drain(self, grace: float | None) -> None:
        """Write outcomes while jobs finish, for ``grace`` seconds (None: until they all did)."""
        deadline = None if grace is None else time.monotonic() + grace
        while self.slots.active() or self.outbox:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if self.halted and not self.slots.active():
                break  # what is left cannot be written: peers recover those jobs
            self._pause(0.05)
            self.guard.run("writing outcomes", partial(self._collect, timezone.now()))

    def _put_back(self) -> None:
        release.put_back(self.slots, self.row, timezone.now(), self.using)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop cleanly; a second one exits at once (``liveness``)."""
        liveness.stop_on_signals(self)

    # One iteration -------------------------------------------------------------

    def loop(self, now: datetime | None = None) -> int:
        """Record finished jobs, keep up the upkeep, claim what fits; returns jobs claimed."""
        at = now or timezone.now()
        self._free_before_claim = 0
        self._take_done()
        self.guard.run("the upkeep", partial(self.upkeep.run, at))
        self._expire(at)
        if self._gathering():
            return 0
        claimed = self._claim(at)
        # Outcomes are written after the claim, while the new batch already runs.
        self.guard.run("writing outcomes", partial(self._collect, at))
        return claimed

    def _claim(self, now: datetime) -> int:
        if not self.runner_on and self.guard.healthy:
            # Stopped, it reads the switch where it would claim: switched on
            # (which wakes it), it claims at once, not at the next upkeep round.
            self.guard.run("reading the runner switch", partial(upkeep.read_switch, self))
        if self.stopping or self.halted or not (self.guard.healthy and self.runner_on):
            return 0
        free = self.slots.free()
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self.claimed)
        if free <= 0:
            return 0
        self._free_before_claim = free
        batch = claiming.claim(self, free, now)
        for claimed in batch:
            self.dispatch.submit(claimed)
        self.claimed += len(batch)
        return len(batch)

    def _take_done(self) -> None:
        """Move finished attempts out of the slots; they wait in the outbox."""
        for entry, outcome in self.dispatch.take_done():
            self.outbox.add(entry.claimed, outcome)

    def _collect(self, now: datetime) -> None:
        """Write finished attempts; they stay in the outbox until written: outages lose none."""
        self._take_done()
        row = self.own_row
        self.outbox.write(lambda batch: finish(row, batch, now, self.using))

    def _expire(self, now: datetime) -> None:
        """Fail attempts past their timeout; their threads are abandoned, not killed."""
        for entry in self.slots.expire():
            self.outbox.add(entry.claimed, timed_out(entry, now))

    # Pacing ----------------------------------------------------------------------

    def _gathering(self) -> bool:
        return not self.stopping and self.slots.gathering()

    def _sleep(self) -> None:
        """Wait for a wake-up, a poll, or the next upkeep round, whichever comes first.

        An upkeep round due during the wait runs before it: a job that wakes the
        worker is then claimed at once, not after a round of heartbeat and
        recovery statements (which made one wake-up in a dozen slow).
        """
        if not self.stopping:
            self.dispatch.wake_after = self.slots.completions_to_wait_for()
        timeout = self.poll_interval * random.uniform(0.9, 1.1)
        if self.guard.healthy and not self.stopping and not self._wake.is_set():
            ahead = min(timeout, jobs_settings.heartbeat_interval / 2)
            self.guard.run("the upkeep", partial(self.upkeep.run, timezone.now(), ahead))
        timeout = min(timeout, self.upkeep.seconds_left())
        if self.limits_open_at is not None:
            until = (self.limits_open_at - timezone.now()).total_seconds()
            timeout = min(timeout, max(0.0, until) + 0.005)
        if self.guard.backoff:
            timeout = max(timeout, self.guard.backoff)
        if self.slots and self.slots.expiring():
            timeout = min(timeout, 0.05)
        self._pause(timeout)
        self.dispatch.wake_after = 1

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

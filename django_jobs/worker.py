"""The worker: a loop that claims due jobs, hands them to a pool and records outcomes.

Fetching and executing are separate pieces: the loop thread alone talks to
the database for claims, heartbeats and outcomes; pool threads only run
handlers. One iteration is ``loop(now)``, so tests drive it with a fixed time.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from django.db import connections, router
from django.utils import timezone

from . import liveness, overlap, pruning, signals
from .conf import jobs_settings
from .engines import claiming, cycle, for_alias, notify
from .engines.completion import finish
from .execution import JobContext, execute
from .guard import Guard
from .models import TRANSITION_FIELDS, Job, JobHistory, Runner, RunStatus
from .models import Worker as WorkerRow
from .outcomes import Finished, Outcome
from .pool import ProcessPool

logger = logging.getLogger("django_jobs.worker")

P = ParamSpec("P")
T = TypeVar("T")
# Seconds between a worker's pruning rounds when RETENTION_DAYS is set.
PRUNE_EVERY = 60.0
# Jobs averaging less than this (ms) are claimed ahead of free slots.
PREFETCH_BELOW_MS = 20.0
# How many rounds of its pool a worker of such jobs holds beyond the running ones.
PREFETCH_ROUNDS = 5
# ... unless one of its jobs has been running this long (seconds).
PREFETCH_STALL_SECONDS = 1.0
INTERRUPTED = "interrupted: the worker stopped before the job finished"


@dataclass
class InFlight:
    job: Job
    ctx: JobContext
    timeout: float | None
    future: Future | None = None
    # When a pool thread started it; a prefetched job waits in the pool's queue first.
    started: float | None = None
    abandoned: bool = False

    @property
    def deadline(self) -> float | None:
        if self.timeout is None or self.started is None:
            return None
        return self.started + self.timeout


@dataclass
class Stats:
    claimed: int = 0
    finished: int = 0
    started_at: float = field(default_factory=time.monotonic)


class Worker:
    """Runs jobs until stopped; many of them may share one database."""

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
        pool: str | Executor = "thread",
        shutdown_grace: float | None = None,
    ) -> None:
        if not isinstance(pool, Executor) and pool not in ("thread", "process"):
            raise ValueError(f"pool must be 'thread' or 'process', not {pool!r}")
        self.queues = sorted(set(queues)) if queues else None
        self.concurrency = int(concurrency or jobs_settings.CONCURRENCY)
        self.batch_size = int(batch_size or jobs_settings.BATCH_SIZE)
        self.poll_interval = float(
            jobs_settings.POLL_INTERVAL if poll_interval is None else poll_interval
        )
        self.max_jobs = max_jobs
        self.max_memory_mb = max_memory_mb
        self.listen = listen
        self.using = using or router.db_for_write(Job)
        self.row: WorkerRow | None = None
        self.stats = Stats()
        self.pool = pool
        # Seconds in-flight jobs get once stopped; None: SHUTDOWN_GRACE.
        self.shutdown_grace = shutdown_grace
        self._pool: Executor | ProcessPool
        if isinstance(pool, Executor):  # the in-process worker's, or the test helper's
            self._pool = pool
        elif pool == "process":
            self._pool = ProcessPool(self.concurrency)
        else:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="django-jobs")
        self._inflight: dict[int, InFlight] = {}
        self._done: queue.SimpleQueue[tuple[int, Outcome]] = queue.SimpleQueue()
        self._unsaved: list[Finished] = []
        self._wake = threading.Event()
        # Finished jobs waiting in _done that make the loop worth waking for.
        self._wake_after = 1
        self._stopping = threading.Event()
        self._guard = Guard(self.using)
        self._runner_on = True
        self._next_tick = 0.0
        self._next_prune = 0.0
        self._free_before_claim = 0
        self._recent_ms: float | None = None
        self._listener: notify.Listener | None = None

    # Life cycle ------------------------------------------------------------

    def start(self) -> None:
        self.row = liveness.register(self.queues, self.concurrency, self.using)
        self._runner_on = Runner.is_running(self.using)
        if self.listen and notify.enabled(self.using):
            self._listener = notify.Listener(self._wake, set(self.queues or []) or None, self.using)
            self._listener.start()
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
                if self._retire_due() or self.halted:
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
                if not self._inflight and not self._unsaved:
                    # Idle: one more claim with every slot free decides whether all is done.
                    if not self.loop(now) and not self._inflight and not self._unsaved:
                        break
                    continue
                self._wake.wait(0.05)
                self._wake.clear()
        finally:
            self.shutdown(grace=None)
        return self.stats.finished

    def stop(self) -> None:
        """Stop claiming; in-flight jobs get ``SHUTDOWN_GRACE`` seconds to finish."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def halted(self) -> str:
        """Why the worker stopped claiming after a step kept failing ("" while it has not)."""
        return self._guard.halted

    @property
    def _healthy(self) -> bool:
        return self._guard.healthy

    @property
    def _lost_connection(self) -> bool:
        return self._guard.lost_connection

    @_lost_connection.setter
    def _lost_connection(self, lost: bool) -> None:
        self._guard.lost_connection = lost

    def shutdown(self, grace: float | None = -1.0) -> None:
        """Wait for in-flight jobs (``grace`` seconds, None: forever), put back the rest."""
        if grace is not None and grace < 0:
            grace = self.shutdown_grace
            grace = float(jobs_settings.SHUTDOWN_GRACE if grace is None else grace)
        deadline = None if grace is None else time.monotonic() + grace
        while self._active() or self._unsaved:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if self.halted and not self._active():
                break  # what is left cannot be written: peers recover those jobs
            self._wake.wait(0.05)
            self._wake.clear()
            self._safely(self._collect, timezone.now())
        self._safely(self._release_unfinished, timezone.now())
        if self._listener:
            self._listener.stop()
            self._listener.join(timeout=2.0)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.row is not None:
            self._safely(liveness.unregister, self.row, self.using)
            signals.worker_stopped.send_robust(sender=WorkerRow, worker=self.row)
            logger.info("worker stopped name=%s finished=%d", self.row.name, self.stats.finished)
        if not connections[self.using].in_atomic_block:  # never end a caller's transaction
            connections[self.using].close()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop cleanly; a second one exits at once."""

        def handle(signum, frame):
            if self.stopping:
                # Leave at once; other workers recover the jobs still running
                # here once this worker's heartbeat stops.
                logger.warning("second signal: exiting now")
                os._exit(1)
            logger.info("signal %s: finishing in-flight jobs, then stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    # One iteration -------------------------------------------------------------

    def loop(self, now: datetime | None = None) -> int:
        """Record finished jobs, keep the heartbeat, claim what fits; returns jobs claimed."""
        now = now or timezone.now()
        self._free_before_claim = 0
        self._take_done()
        self._safely(self._tick, now)
        self._expire(now)
        if self._gathering():
            return 0
        claimed = self._claim(now)
        # Outcomes are written after the claim, while the new batch already runs.
        self._safely(self._collect, now)
        return claimed

    def _claim(self, now: datetime) -> int:
        if self._stopping.is_set() or self.halted or not (self._healthy and self._runner_on):
            return 0
        free = min(self._capacity() - self._busy(), self.batch_size)
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self.stats.claimed)
        if free <= 0:
            return 0
        self._free_before_claim = free
        if self._unsaved:
            jobs = self._finish_and_claim(free, now)
        else:
            jobs = self._safely(claiming.claim, self.row, self.queues, free, now, self.using) or []
        jobs = self._spawn_overlapping(jobs, now)
        for job in jobs:
            self._submit(job)
        self.stats.claimed += len(jobs)
        return len(jobs)

    def _submit(self, job: Job) -> None:
        ctx = JobContext(
            job_id=job.pk,
            name=job.name,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            scheduled_for=job.scheduled_for,
            logger=_job_logger(job.handler),
        )
        timeout = job.timeout if job.timeout is not None else jobs_settings.DEFAULT_TIMEOUT
        timeout = float(timeout) if timeout else None
        if isinstance(self._pool, ProcessPool):
            # The pool kills the process at the timeout: nothing is left to abandon.
            entry = InFlight(job, ctx, None)
            # It claims only for free children, so the handler starts about now.
            _send_started(job)
            entry.future = self._pool.submit(execute, job.handler, job.data, ctx, timeout=timeout)
        else:
            entry = InFlight(job, ctx, timeout)
            entry.future = self._pool.submit(_start, entry)
        self._inflight[job.pk] = entry
        entry.future.add_done_callback(lambda f, pk=job.pk: self._on_done(pk, f))

    def _on_done(self, pk: int, future: Future) -> None:
        try:
            outcome = future.result()
        except BaseException as exc:
            # The pool lost the run (its process died, was killed or timed out).
            now = timezone.now()
            outcome = Outcome(pk, False, now, now, 0, error=f"{type(exc).__name__}: {exc}")
        self._done.put((pk, outcome))
        if self._done.qsize() >= self._wake_after:
            self._wake.set()

    def _spawn_overlapping(self, jobs: list[Job], now: datetime) -> list[Job]:
        """Hand claimed slots of jobs that allow overlap to child runs (see ``overlap``)."""
        if not any(overlap.overlaps(job) for job in jobs):
            return jobs
        runs = self._safely(overlap.spawn_runs, self.row, jobs, now, self.using)
        if runs is not None:
            return runs
        # Could not hand them over: fail this attempt, so they are retried, not stranded.
        for job in jobs:
            if overlap.overlaps(job):
                error = "could not start the overlapping run: the database was unavailable"
                outcome = Outcome(job.pk, False, now, now, 0, error=error)
                self._unsaved.append(Finished(job, outcome))
        return [job for job in jobs if not overlap.overlaps(job)]

    def _finish_and_claim(self, free: int, now: datetime) -> list[Job]:
        """Write the waiting outcomes and claim the next batch in one statement."""
        batch = self._unsaved
        result = self._safely(
            cycle.finish_and_claim, self.row, batch, self.queues, free, now, self.using
        )
        if result is None:
            return []  # the outcomes stay in _unsaved and are written later
        applied, jobs = result
        self._unsaved = []
        self._record(batch, applied)
        return jobs

    def _take_done(self) -> None:
        """Move finished attempts out of the pool's slots; they wait in ``_unsaved``."""
        while True:
            try:
                pk, outcome = self._done.get_nowait()
            except queue.Empty:
                break
            entry = self._inflight.pop(pk, None)
            if entry is not None and not entry.abandoned:
                self._unsaved.append(Finished(entry.job, outcome))

    def _collect(self, now: datetime) -> None:
        """Write finished attempts; they stay in ``_unsaved`` until written: outages lose none."""
        self._take_done()
        batch = self._unsaved
        if not batch:
            return
        applied = finish(self.row, batch, now, self.using)
        self._unsaved = []
        self._record(batch, applied)

    def _record(self, batch: list[Finished], applied: list[Finished]) -> None:
        self.stats.finished += len(batch)
        for item in batch:
            ms = item.outcome.duration_ms
            self._recent_ms = ms if self._recent_ms is None else 0.8 * self._recent_ms + 0.2 * ms
        for item in applied:
            if item.history_status == RunStatus.FAILED:
                _log_failure(item)
                continue
            logger.info(
                "job finished job=%s handler=%s status=%s duration_ms=%d",
                item.job.pk,
                item.job.handler,
                item.history_status,
                item.outcome.duration_ms,
            )

    def _expire(self, now: datetime) -> None:
        """Fail attempts past their timeout; their threads are abandoned, not killed."""
        clock = time.monotonic()
        for pk, entry in list(self._inflight.items()):
            deadline = entry.deadline
            if entry.abandoned or deadline is None or clock < deadline:
                continue
            entry.abandoned = True
            entry.ctx._cancel.set()
            outcome = Outcome(
                pk,
                False,
                now,
                now,
                0,
                error=f"TimeoutError: the job ran past its timeout of {self._timeout_of(entry):g}s",
            )
            self._unsaved.append(Finished(entry.job, outcome))
            entry.future.add_done_callback(lambda f, pk=pk: self._inflight.pop(pk, None))

    @staticmethod
    def _timeout_of(entry: InFlight) -> float:
        job = entry.job
        return float(job.timeout if job.timeout is not None else jobs_settings.DEFAULT_TIMEOUT)

    def _tick(self, now: datetime) -> None:
        """Heartbeat, runner switch, cancel requests and recovery, every heartbeat interval."""
        clock = time.monotonic()
        guard = self._guard
        if clock < self._next_tick and guard.healthy:
            return
        self._next_tick = clock + jobs_settings.heartbeat_interval
        if not liveness.heartbeat(self.row, self.using):
            logger.error("worker %s was declared dead; registering again", self.row.name)
            self.row = liveness.register(self.queues, self.concurrency, self.using)
        guard.healthy = True
        self._runner_on = Runner.is_running(self.using)
        for pk in liveness.cancel_requests(self.row, self.using):
            if pk in self._inflight:
                self._cancel(self._inflight[pk])
        if guard.lost_connection:
            known = set(self._inflight) | {item.job.pk for item in self._unsaved}
            liveness.recover_unconfirmed(self.row, known, now, self.using)
            guard.lost_connection = False
        if clock >= guard.recover_after:
            liveness.recover_lost(now, self.using)
        self._prune(clock)

    def _prune(self, clock: float) -> None:
        """With RETENTION_DAYS, delete a few small batches of old rows now and then."""
        days = jobs_settings.RETENTION_DAYS
        if days is None or clock < self._next_prune:
            return
        self._next_prune = clock + PRUNE_EVERY
        pruning.prune(timedelta(days=float(days)), batch_size=500, max_batches=2)

    def _cancel(self, entry: InFlight) -> None:
        entry.ctx._cancel.set()
        if isinstance(self._pool, ProcessPool):
            self._pool.kill(entry.future, "cancelled: the process running the job was killed")

    def _release_unfinished(self, now: datetime) -> None:
        """Put back jobs that did not finish in the grace period, and the claimed-unstarted.

        An attempt that started counts: it is failed as interrupted, and the
        job runs again only if it has attempts left (a job with
        ``max_attempts=1`` runs at most once). A claimed job that never
        started gives its attempt back, and its history row is removed.
        """
        left = [entry for entry in self._inflight.values() if not entry.abandoned]
        if not left or self.row is None:
            return
        jobs = []
        for entry in left:
            started = not entry.future.cancel()
            job = entry.job
            row = getattr(job, "run_history", None)
            if row is not None:
                written = JobHistory.objects.using(self.using).filter(
                    job_id=job.pk, attempt=row.attempt, scheduled_for=row.scheduled_for
                )
                if started:
                    written.update(**JobHistory.failed(now, INTERRUPTED))
                else:
                    written.delete()
            if started:
                job.fail(now, INTERRUPTED, now)
            else:
                job.give_back(now)
            jobs.append(job)
        fence = {"worker": self.row.pk}
        for_alias(self.using).update_rows(Job, jobs, TRANSITION_FIELDS, fence=fence)
        self._inflight.clear()
        logger.warning("put back unfinished jobs count=%d", len(jobs))

    # Helpers ---------------------------------------------------------------------

    def _busy(self) -> int:
        return len(self._inflight)

    def _capacity(self) -> int:
        """Jobs this worker holds at once: its pool, plus a few rounds queued when jobs are short.

        Claiming only for free slots makes batches tiny when jobs take
        microseconds, and leaves the pool idle while the next claim travels;
        holding a few rounds of short jobs keeps batches full and the pool
        busy. Long jobs are never held back from other workers this way.
        """
        if self._short():
            return self.concurrency + min(self.batch_size, PREFETCH_ROUNDS * self.concurrency)
        return self.concurrency

    def _short(self) -> bool:
        short = self._recent_ms is not None and self._recent_ms < PREFETCH_BELOW_MS
        if not short or isinstance(self._pool, ProcessPool):
            return False
        # A job running far past the recent average holds up the jobs queued
        # behind it: claim no more ahead until it ends.
        stalled = time.monotonic() - PREFETCH_STALL_SECONDS
        return not any(
            entry.started is not None and entry.started < stalled and not entry.abandoned
            for entry in self._inflight.values()
        )

    def _gathering(self) -> bool:
        """Short jobs in hand and less than half the capacity free: wait for more to finish.

        Their outcomes then travel with the next claim, one round trip for a
        whole batch, while the pool works through the jobs still queued.
        """
        if not self._inflight or self._stopping.is_set() or not self._short():
            return False
        capacity = self._capacity()
        return capacity - self._busy() < capacity // 2

    def _active(self) -> bool:
        return any(not entry.abandoned for entry in self._inflight.values())

    def _sleep(self) -> None:
        self._wake_after = self._completions_to_wait_for()
        timeout = self.poll_interval * random.uniform(0.9, 1.1)
        if self._guard.backoff:
            timeout = max(timeout, self._guard.backoff)
        if self._inflight:
            timeout = min(timeout, 0.05) if self._expiring() else timeout
        self._wake.wait(timeout)
        self._wake.clear()
        self._wake_after = 1

    def _completions_to_wait_for(self) -> int:
        """While gathering, one wake-up for the jobs that end it, not one a job."""
        if not self._gathering():
            return 1
        capacity = self._capacity()
        return max(1, self._busy() - (capacity - capacity // 2))

    def _expiring(self) -> bool:
        return any(e.deadline is not None and not e.abandoned for e in self._inflight.values())

    def _retire_due(self) -> bool:
        if self.max_jobs is not None and self.stats.claimed >= self.max_jobs:
            logger.info("worker retiring after %d jobs", self.stats.claimed)
            return True
        if self.max_memory_mb is not None and _rss_mb() > self.max_memory_mb:
            logger.info("worker retiring: resident memory above %s MB", self.max_memory_mb)
            return True
        return False

    def _safely(self, step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        return self._guard.run(step, *args, **kwargs)


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


def _log_failure(item: Finished) -> None:
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


@functools.cache
def _job_logger(handler: str) -> logging.Logger:
    return logging.getLogger(f"django_jobs.job.{handler}")


def _start(entry: InFlight) -> Outcome:
    """Run in a pool thread: the timeout counts from here, not from the claim."""
    _send_started(entry.job)
    entry.started = time.monotonic()
    return execute(entry.job.handler, entry.job.data, entry.ctx)


def _send_started(job: Job) -> None:
    signals.job_started.send_robust(sender=Job, job=job, attempt=job.attempts)

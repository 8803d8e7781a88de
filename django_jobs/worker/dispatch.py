"""Handing claimed jobs to the pool, and taking back what they did.

Pool threads (or children) only run handlers; their outcomes come back to
the loop's thread through one queue, and the loop alone writes them.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from concurrent.futures import Executor, Future
from datetime import datetime

from django.utils import timezone

from .. import dependencies, signals
from ..claimed import Claimed
from ..models import Job
from ..outcomes import Outcome
from .executing import JobContext, execute
from .pool import ProcessPool
from .slots import InFlight, Slots, timeout_of
from .threads import JobThreads

KILLED = "cancelled: the process running the job was killed"


class Dispatch:
    """Submits claimed jobs to a pool and queues their outcomes for the loop."""

    def __init__(
        self, pool: JobThreads | Executor | ProcessPool, slots: Slots, wake: threading.Event
    ) -> None:
        self.pool = pool
        self.slots = slots
        self.wake = wake
        self.done: queue.SimpleQueue[tuple[int, Outcome]] = queue.SimpleQueue()
        # Finished jobs waiting in ``done`` that make the loop worth waking for.
        self.wake_after = 1

    def submit(self, claimed: Claimed) -> None:
        job = claimed.job
        ctx = context_for(job)
        unreadable = give_dependency_results(job, ctx)
        future: Future[Outcome]
        if unreadable is not None:
            # The attempt fails (and is retried) rather than run without what it waits for.
            entry = InFlight(claimed, ctx, None)
            future = Future()
            future.set_result(failed(job.pk, unreadable, timezone.now()))
        elif isinstance(self.pool, JobThreads):
            # No future and no callback: the pool thread reports the outcome itself.
            entry = InFlight(claimed, ctx, timeout_of(job))
            self.slots.add(entry)
            entry.future = self.pool.submit(functools.partial(self._run, entry))
            return
        elif isinstance(self.pool, ProcessPool):
            # The pool kills the process at the timeout: nothing is left to abandon.
            entry = InFlight(claimed, ctx, None)
            # It claims only for free children, so the handler starts about now.
            send_started(claimed)
            future = self.pool.submit(execute, job.handler, job.data, ctx, timeout=timeout_of(job))
        else:
            entry = InFlight(claimed, ctx, timeout_of(job))
            future = self.pool.submit(run_in_thread, entry)
        entry.future = future
        self.slots.add(entry)
        future.add_done_callback(functools.partial(self._on_done, job.pk))

    def _run(self, entry: InFlight) -> None:
        """In a pool thread of ``JobThreads``."""
        try:
            outcome = run_in_thread(entry)
        except BaseException as exc:
            # ``execute`` and ``send_robust`` catch what a job throws; this is for our own
            # bug: unreported, the job would hold its slot until the worker stopped.
            outcome = failed(entry.job.pk, f"{type(exc).__name__}: {exc}", timezone.now())
        self._finished(entry.job.pk, outcome)

    def _on_done(self, pk: int, future: Future[Outcome]) -> None:
        try:
            outcome = future.result()
        except BaseException as exc:
            # The pool lost the run (its process died, was killed or timed out).
            outcome = failed(pk, f"{type(exc).__name__}: {exc}", timezone.now())
        self._finished(pk, outcome)

    def _finished(self, pk: int, outcome: Outcome) -> None:
        self.done.put((pk, outcome))
        if self.done.qsize() >= self.wake_after:
            self.wake.set()

    def take_done(self) -> list[tuple[InFlight, Outcome]]:
        """Free the slots of finished jobs; returns those whose outcome still counts."""
        finished: list[tuple[InFlight, Outcome]] = []
        while True:
            try:
                pk, outcome = self.done.get_nowait()
            except queue.Empty:
                return finished
            entry = self.slots.pop(pk)
            if entry is not None and not entry.abandoned:
                finished.append((entry, outcome))

    def cancel(self, entry: InFlight) -> None:
        """Tell the handler it was cancelled; in the process pool, kill its child."""
        entry.ctx._cancel.set()
        if isinstance(self.pool, ProcessPool) and isinstance(entry.future, Future):
            self.pool.kill(entry.future, KILLED)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def context_for(job: Job) -> JobContext:
    return JobContext(
        job_id=job.pk,
        name=job.name,
        attempt=job.attempts,
        max_attempts=job.max_attempts,
        scheduled_for=job.scheduled_for,
        logger=_job_logger(job.handler),
        using=job._state.db or "default",
    )


def give_dependency_results(job: Job, ctx: JobContext) -> str | None:
    """Put a dependent's dependency results in its ctx; the error when they cannot be read."""
    if not job.has_dependencies:
        return None
    try:
        ctx.dependency_results = dependencies.results(job)
    except Exception as exc:
        return f"could not read the results of its dependencies: {type(exc).__name__}: {exc}"
    return None


def failed(pk: int, error: str, now: datetime) -> Outcome:
    """The outcome of an attempt that ended without its handler's word."""
    return Outcome(pk, False, now, now, 0, error=error)


def timed_out(entry: InFlight, now: datetime) -> Outcome:
    error = f"TimeoutError: the job ran past its timeout of {entry.timeout or 0:g}s"
    return failed(entry.job.pk, error, now)


def send_started(claimed: Claimed) -> None:
    job = claimed.job
    signals.job_started.send_robust(sender=Job, job=job, attempt=job.attempts, run=claimed.run)


def run_in_thread(entry: InFlight) -> Outcome:
    """Run in a pool thread: the timeout counts from here, not from the claim."""
    send_started(entry.claimed)
    entry.started = time.monotonic()
    return execute(entry.job.handler, entry.job.data, entry.ctx)


@functools.cache
def _job_logger(handler: str) -> logging.Logger:
    return logging.getLogger(f"django_jobs.job.{handler}")

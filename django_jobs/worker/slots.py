"""The worker's slots: the jobs it holds, their timeouts, and how far ahead it claims.

A worker holds its pool's worth of jobs, plus a few rounds more when recent
jobs are short: claiming only for free threads makes batches tiny when jobs
take microseconds and leaves the pool idle while the next claim travels.
Long jobs are never held back from other workers this way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from ..claimed import Claimed
from ..conf import jobs_settings
from ..models import Job
from ..outcomes import Outcome
from .executing import JobContext
from .threads import Ticket

# Jobs averaging less than this (ms) are claimed ahead of free slots.
PREFETCH_BELOW_MS = 20.0
# How many rounds of its pool a worker of such jobs holds beyond the running ones.
PREFETCH_ROUNDS = 5
# ... unless one of its jobs has been running this long (seconds).
PREFETCH_STALL_SECONDS = 1.0


@dataclass(eq=False)
class InFlight:
    """One job in the pool: queued, running, or abandoned past its timeout."""

    claimed: Claimed
    ctx: JobContext
    # Seconds the thread pool gives it; None: no limit here (the process pool kills instead).
    timeout: float | None
    # What withdraws it from the pool while it waits (``cancel()``).
    future: Future[Outcome] | Ticket | None = None
    # When a pool thread started it; a prefetched job waits in the pool's queue first.
    started: float | None = None
    abandoned: bool = False

    @property
    def job(self) -> Job:
        return self.claimed.job

    @property
    def deadline(self) -> float | None:
        if self.timeout is None or self.started is None:
            return None
        return self.started + self.timeout


def timeout_of(job: Job) -> float | None:
    """The job's timeout in seconds (its own, else ``DEFAULT_TIMEOUT``); None: no limit."""
    timeout = job.timeout if job.timeout is not None else jobs_settings.DEFAULT_TIMEOUT
    return float(timeout) if timeout else None


class Slots:
    """The jobs a worker holds, and how many more it may claim now."""

    def __init__(self, concurrency: int, batch_size: int, *, prefetch: bool) -> None:
        self.concurrency = concurrency
        self.batch_size = batch_size
        # False for the process pool: a queued job would wait for a child, so hold none.
        self.prefetch = prefetch
        self.inflight: dict[int, InFlight] = {}
        # Moving average of recent attempts' durations (ms); None before the first.
        self.recent_ms: float | None = None

    def __iter__(self) -> Iterator[InFlight]:
        return iter(list(self.inflight.values()))

    def __len__(self) -> int:
        return len(self.inflight)

    def __contains__(self, pk: object) -> bool:
        return pk in self.inflight

    def add(self, entry: InFlight) -> None:
        self.inflight[entry.job.pk] = entry

    def get(self, pk: int) -> InFlight | None:
        return self.inflight.get(pk)

    def pop(self, pk: int) -> InFlight | None:
        return self.inflight.pop(pk, None)

    def clear(self) -> None:
        self.inflight.clear()

    def observe(self, duration_ms: int) -> None:
        """Fold one finished attempt's duration into the recent average."""
        recent = self.recent_ms
        self.recent_ms = duration_ms if recent is None else 0.8 * recent + 0.2 * duration_ms

    def active(self) -> bool:
        """Whether a job is still queued or running (abandoned ones do not count)."""
        return any(not entry.abandoned for entry in self.inflight.values())

    def free(self) -> int:
        """How many jobs the next claim may take."""
        return min(self.capacity() - len(self.inflight), self.batch_size)

    def capacity(self) -> int:
        """Jobs held at once: the pool, plus a few rounds queued while jobs are short."""
        if self.short():
            return self.concurrency + min(self.batch_size, PREFETCH_ROUNDS * self.concurrency)
        return self.concurrency

    def short(self) -> bool:
        """Recent jobs are short, and none in hand has been running far longer."""
        short = self.recent_ms is not None and self.recent_ms < PREFETCH_BELOW_MS
        if not short or not self.prefetch:
            return False
        # A job running far past the recent average holds up the jobs queued
        # behind it: claim no more ahead until it ends.
        stalled = time.monotonic() - PREFETCH_STALL_SECONDS
        return not any(
            entry.started is not None and entry.started < stalled and not entry.abandoned
            for entry in self.inflight.values()
        )

    def gathering(self) -> bool:
        """Short jobs in hand and less than half the capacity free: wait for more to finish.

        Their outcomes then travel with the next claim, one round trip for a
        whole batch, while the pool works through the jobs still queued.
        """
        if not self.inflight or not self.short():
            return False
        capacity = self.capacity()
        return capacity - len(self.inflight) < capacity // 2

    def completions_to_wait_for(self) -> int:
        """While gathering, one wake-up for the jobs that end it, not one a job."""
        if not self.gathering():
            return 1
        capacity = self.capacity()
        return max(1, len(self.inflight) - (capacity - capacity // 2))

    def expiring(self) -> bool:
        """Whether a running job has a deadline the loop must watch."""
        return any(e.deadline is not None and not e.abandoned for e in self.inflight.values())

    def expire(self) -> list[InFlight]:
        """Abandon the jobs past their timeout and return them; their threads run on.

        An abandoned entry leaves the slots once its thread returns: its
        outcome comes back like any other, and ``Dispatch.take_done`` drops it.
        """
        clock = time.monotonic()
        expired = []
        for entry in list(self.inflight.values()):
            deadline = entry.deadline
            if entry.abandoned or deadline is None or clock < deadline:
                continue
            entry.abandoned = True
            entry.ctx._cancel.set()
            expired.append(entry)
        return expired

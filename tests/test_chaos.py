"""Chaos: many workers, random kill -9s and a database restart; nothing lost, nothing doubled.

Slow: it runs only when asked, ``DJANGO_JOBS_CHAOS=1 DATABASE_URL=... pytest -m chaos``,
on PostgreSQL or MariaDB. The restart is of a private server the test starts
itself (``restart_database``), never of the server ``DATABASE_URL`` names.
"""

import itertools
import os
import random
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings

from django_jobs import enqueue_many, schedule
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.worker.slots import PREFETCH_ROUNDS

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.subprocess,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("DJANGO_JOBS_CHAOS") != "1", reason="set DJANGO_JOBS_CHAOS=1 to run"
    ),
    pytest.mark.timeout(400),
]

WORKERS = 4
CONCURRENCY = 4
BATCH_SIZE = 50
KILLS = 5
WORKER_TIMEOUT = settings.DJANGO_JOBS["WORKER_TIMEOUT"]


class Fleet:
    """Four workers; a killed one is replaced at once."""

    def __init__(self, runjobs):
        self.runjobs = runjobs
        self.alive = [self.start() for _ in range(WORKERS)]
        self.killed = 0

    def start(self):
        return self.runjobs(
            "-v", "0", "--concurrency", str(CONCURRENCY), "--batch-size", str(BATCH_SIZE)
        )

    def kill_one(self, rng):
        victim = rng.choice(self.alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.alive.remove(victim)
        self.alive.append(self.start())
        self.killed += 1


def test_twenty_thousand_jobs_survive_kills_and_a_database_restart(
    runjobs, wait_for, restart_database, tmp_path
):
    total = 20_000
    out = tmp_path / "runs.txt"
    rng = random.Random(os.environ.get("CHAOS_SEED", "5"))
    enqueue_many(
        [{"handler": "record", "data": {"path": str(out), "key": i}} for i in range(total)]
    )
    started = time.monotonic()
    fleet = Fleet(runjobs)

    def ran():
        return len(out.read_text().splitlines()) if out.exists() else 0

    # Spread the faults over the run: a kill at every sixth of the work, the restart mid-way.
    for step in range(1, KILLS + 2):
        wait_for(lambda s=step: ran() >= total * s // 7, timeout=120, message=f"step {step}")
        if step == 3:
            restart_database(down_for=1.0)
        else:
            fleet.kill_one(rng)
    wait_for(
        lambda: Job.objects.filter(status=JobStatus.COMPLETED).count() == total,
        timeout=180,
        message="every job to complete",
    )
    elapsed = time.monotonic() - started
    print(f"\n{total} jobs, {fleet.killed} kills, 1 restart: {elapsed:.1f}s")

    assert fleet.killed == KILLS
    assert not Job.objects.exclude(status=JobStatus.COMPLETED).exists()
    assert not JobHistory.objects.filter(status=RunStatus.RUNNING).exists()
    runs = Counter(line.split()[0] for line in out.read_text().splitlines())
    assert len(runs) == total
    # One history row per attempt, and the attempts add up.
    attempts = Counter(JobHistory.objects.values_list("job_id", "attempt"))
    assert set(attempts.values()) == {1}
    assert len(attempts) == sum(Job.objects.values_list("attempts", flat=True))
    # A job ran again only after a lost attempt, and each rerun is its own attempt.
    lost = JobHistory.objects.filter(status=RunStatus.FAILED, error__startswith="worker lost")
    lost_jobs = Counter(lost.values_list("job__data__key", flat=True))
    for key, n in runs.items():
        if n > 1:
            assert lost_jobs[int(key)] >= n - 1, f"job {key} ran {n} times"
    # Only jobs a lost worker held can run again: running, queued in its pool,
    # or finished with the outcome not yet written. A worker of short jobs
    # holds its concurrency plus a few rounds of it (no more than its batch
    # size); the restart may cost at most one more such hold per worker.
    held = CONCURRENCY + min(BATCH_SIZE, PREFETCH_ROUNDS * CONCURRENCY)
    reruns = sum(n - 1 for n in runs.values())
    assert reruns <= held * (KILLS + WORKERS), runs
    assert sum(lost_jobs.values()) <= held * (KILLS + WORKERS), lost_jobs
    print(f"reruns after lost attempts: {reruns}")


def test_a_one_second_job_fires_once_per_slot_through_kills(runjobs, wait_for):
    job = schedule("every-second", "sleep", "1s", {"seconds": 0.3, "cooperative": False})
    rng = random.Random(os.environ.get("CHAOS_SEED", "7"))
    fleet = Fleet(runjobs)
    started = time.monotonic()
    while time.monotonic() - started < 30:
        time.sleep(rng.uniform(3, 6))
        fleet.kill_one(rng)
    for worker in fleet.alive:
        worker.send_signal(signal.SIGTERM)
    for worker in fleet.alive:
        worker.wait(timeout=30)

    rows = list(JobHistory.objects.filter(job=job).order_by("scheduled_for", "attempt"))
    assert len(rows) > 15
    by_slot = {}
    for row in rows:
        by_slot.setdefault(row.scheduled_for, []).append(row)
    for slot, attempts in by_slot.items():
        # At most one completed run per slot; any earlier attempt of the slot was lost.
        assert sum(r.status == RunStatus.COMPLETED for r in attempts) <= 1, slot
        assert [r.attempt for r in attempts] == list(range(1, len(attempts) + 1))
        for earlier in attempts[:-1]:
            assert earlier.status == RunStatus.FAILED
    # After a crash the next slot still fires: each lost attempt of a slot
    # delays the next slot by at most one recovery time (a slot whose retry
    # was lost again waits for two).
    slots = sorted(by_slot)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
    recovery = timedelta(seconds=WORKER_TIMEOUT + 3).total_seconds()
    for slot, gap in zip(slots, gaps, strict=False):
        lost = sum(r.error.startswith("worker lost") for r in by_slot[slot])
        assert gap <= recovery * max(1, lost), (slot, gap, lost, gaps)
    print(f"\n{len(slots)} slots, {fleet.killed} kills, longest gap {max(gaps):.1f}s")

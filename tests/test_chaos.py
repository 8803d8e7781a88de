"""Chaos: many workers, random kill -9s and a database restart; nothing lost, nothing doubled.

Slow: it runs only when asked, ``DJANGO_JOBS_CHAOS=1 DATABASE_URL=... pytest -m chaos``,
on PostgreSQL or MariaDB. The restart is of a private server the test starts
itself (``restart_database``), never of the server ``DATABASE_URL`` names.
"""

import itertools
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection
from django.db.models import Count

from django_jobs import enqueue, enqueue_many, schedule
from django_jobs.models import (
    FINISHED,
    Job,
    JobDependency,
    JobHistory,
    JobStatus,
    RunStatus,
    Worker,
)
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


def _left() -> str:
    """What a drain that did not finish left: jobs by status and holder, workers' heartbeats."""
    jobs = Job.objects.exclude(status=JobStatus.COMPLETED)
    by = Counter(jobs.values_list("status", "worker_id"))
    beats = list(Worker.objects.values_list("pk", "last_heartbeat"))
    return f"left by (status, worker): {dict(by)}; workers: {beats}"


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
    try:
        wait_for(
            lambda: Job.objects.filter(status=JobStatus.COMPLETED).count() == total,
            timeout=180,
            message="every job to complete",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {_left()}") from None
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


# A graph of dependent jobs --------------------------------------------------------------

GRAPH_ATTEMPTS = 5  # a run whose database went away fails and is tried again
KEYS = 6


def chaos_graph(rng: random.Random) -> list[dict]:
    """Fan-out, fan-in, layers and chains mixed, and a failure that cancels a branch."""
    specs: list[dict] = []

    def add(ref, depends_on=(), **options):
        seconds = rng.uniform(0.01, 0.08)
        specs.append(
            {"handler": "stamp", "ref": ref, "depends_on": list(depends_on)}
            | {"data": {"seconds": seconds}, "max_attempts": GRAPH_ATTEMPTS}
            | options
        )

    roots = [f"a{i}" for i in range(150)]
    for ref in roots:
        add(ref)
    add("hub")
    fanned = [f"f{i}" for i in range(200)]
    for ref in fanned:
        add(ref, ["hub"])
    layer = [f"b{i}" for i in range(100)]
    for ref in layer:
        add(ref, rng.sample(roots, 4))
    top = [f"c{i}" for i in range(30)]
    for ref in top:
        add(ref, [*rng.sample(layer, 5), rng.choice(fanned)])
    add("join", [*top, *fanned[:50]])
    ends = []
    for chain in range(10):
        previous = roots[chain]
        for step in range(30):
            add(f"chain{chain}-{step}", [previous])
            previous = f"chain{chain}-{step}"
        ends.append(previous)
    add("end", [*ends, "join"])
    specs.append({"handler": "fail", "ref": "bad", "max_attempts": 1})
    add("doomed", ["bad", "a0"])
    add("after", ["doomed"])
    add("anyway", ["bad", "b0"], on_dependency_failure="run")
    return specs


class UniqueEnqueuer(threading.Thread):
    """Enqueues jobs with a few unique keys, some with a dependent, until told to stop.

    It rides out the database restart: a failed call is counted and tried anew.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(daemon=True)
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.calls = self.failures = 0
        self.doubles: list = []
        self.errors: list[Exception] = []

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.once()
                    self.calls += 1
                except IntegrityError as exc:  # a unique key must never be refused twice over
                    self.errors.append(exc)
                except DatabaseError:
                    self.failures += 1
                    connection.close()
                    time.sleep(0.2)
                time.sleep(self.rng.uniform(0.01, 0.05))
        except Exception as exc:  # asserted by the test
            self.errors.append(exc)
        finally:
            connection.close()

    def once(self) -> None:
        key = f"u{self.rng.randrange(KEYS)}"
        data = {"seconds": self.rng.uniform(0.05, 0.3)}
        if self.rng.random() < 0.5:
            enqueue("stamp", data, unique_key=key, max_attempts=GRAPH_ATTEMPTS)
        else:
            enqueue_many(
                [
                    {"handler": "stamp", "data": data, "unique_key": key, "ref": "held"},
                    {"handler": "stamp", "depends_on": ["held"]},
                ],
                max_attempts=GRAPH_ATTEMPTS,
            )
        live = Job.objects.live().exclude(unique_key=None).values("unique_key")
        doubles = live.annotate(n=Count("id")).filter(n__gt=1)
        self.doubles.extend(doubles)


def test_a_graph_of_dependent_jobs_survives_kills_and_a_database_restart(
    runjobs, wait_for, restart_database
):
    rng = random.Random(os.environ.get("CHAOS_SEED", "15"))
    specs = chaos_graph(rng)
    graph = enqueue_many(specs)
    by_ref = {spec["ref"]: job.pk for spec, job in zip(specs, graph, strict=True)}
    enqueuers = [UniqueEnqueuer(seed) for seed in (1, 2)]
    for thread in enqueuers:
        thread.start()
    started = time.monotonic()
    fleet = Fleet(runjobs)

    def finished():
        return Job.objects.filter(pk__in=by_ref.values(), status__in=FINISHED).count()

    try:
        for step in range(1, KILLS + 2):
            wait_for(lambda s=step: finished() >= len(graph) * s // 7, timeout=150)
            if step == 3:
                restart_database(down_for=1.0)
            else:
                fleet.kill_one(rng)
        wait_for(lambda: finished() == len(graph), timeout=180, message="the graph to finish")
    finally:
        for thread in enqueuers:
            thread.stop.set()
        for thread in enqueuers:
            thread.join(timeout=60)
    wait_for(
        lambda: not Job.objects.exclude(status__in=FINISHED).exists(),
        timeout=180,
        message="every job to end",
    )
    elapsed = time.monotonic() - started
    calls = sum(t.calls for t in enqueuers)
    print(f"\n{Job.objects.count()} jobs ({len(graph)} in the graph, {calls} unique enqueues)")
    print(f"{fleet.killed} kills, 1 restart: {elapsed:.1f}s")
    assert fleet.killed == KILLS
    assert [e for t in enqueuers for e in t.errors] == []
    assert calls > 50

    statuses = dict(Job.objects.values_list("pk", "status"))
    failed_branch = {by_ref["bad"], by_ref["doomed"], by_ref["after"]}
    assert statuses[by_ref["bad"]] == JobStatus.FAILED
    assert statuses[by_ref["doomed"]] == statuses[by_ref["after"]] == JobStatus.CANCELLED
    assert {pk for pk, st in statuses.items() if st != JobStatus.COMPLETED} == failed_branch

    # Nothing waits for a dependency that finished: every link counted, nothing waiting.
    assert not JobDependency.objects.filter(settled=False).exists()
    # (a cancelled dependent keeps the count it had)
    assert set(Job.objects.filter(waiting_on__gt=0).values_list("pk", flat=True)) <= failed_branch
    assert not JobHistory.objects.filter(status=RunStatus.RUNNING).exists()

    # Each attempt started once, attempts are numbered 1..n, one run completed.
    runs: dict[int, list] = defaultdict(list)
    for row in JobHistory.objects.order_by("job_id", "attempt", "started_at"):
        runs[row.job_id].append(row)
    attempts = Counter((job_id, row.attempt) for job_id, rows in runs.items() for row in rows)
    assert set(attempts.values()) == {1}
    for job_id, rows in runs.items():
        assert [row.attempt for row in rows] == list(range(1, len(rows) + 1)), job_id
        assert sum(row.status == RunStatus.COMPLETED for row in rows) <= 1, job_id
    assert set(runs) == set(statuses) - {by_ref["doomed"], by_ref["after"]}

    # No dependent started before every dependency it waited for had completed:
    # each handler notes the wall clock when it starts and ends, and every
    # completed dependency's results were handed to it.
    done = {
        job_id: rows[-1].result
        for job_id, rows in runs.items()
        if rows[-1].status == RunStatus.COMPLETED
    }
    checked = 0
    ahead = []  # history stamps: see below
    for job_id, dep in JobDependency.objects.values_list("job_id", "depends_on_id"):
        if job_id not in runs or dep not in done:
            continue  # cancelled, or ran anyway after its dependency failed
        assert job_id in done, job_id
        assert done[job_id]["start"] >= done[dep]["end"], (job_id, dep)
        assert dep in done[job_id]["deps"], (job_id, dep)
        gap = (runs[dep][-1].completed_at - runs[job_id][0].started_at).total_seconds()
        if gap > 0:
            ahead.append(gap)
        checked += 1
    assert checked > 1000
    # JobHistory.started_at is the claiming worker's cycle clock and
    # completed_at the instant the handler returned; a worker's cycle clock is
    # read before the outcomes it writes, so the two can be out of order by
    # a few milliseconds although the claim came after the completion.
    print(f"links checked: {checked}; history stamps out of order: {len(ahead)}", end="")
    print(f" (at most {max(ahead, default=0) * 1000:.1f} ms)")

    # Unique keys: never two live jobs with one key, seen while it ran and in the runs:
    # a job with a key ran only once the previous holder of the key had ended.
    assert [d for t in enqueuers for d in t.doubles] == []
    by_key: dict[str, list] = defaultdict(list)
    for pk, key in Job.objects.exclude(unique_key=None).values_list("pk", "unique_key"):
        by_key[key].append((done[pk]["start"], done[pk]["end"], pk))
    assert len(by_key) == KEYS
    for key, spans in by_key.items():
        spans.sort()
        for (_, end, before), (start, _, after) in itertools.pairwise(spans):
            assert start >= end, (key, before, after)

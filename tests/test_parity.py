"""The same claims, outcomes, cancels, recoveries and overlaps give the same result everywhere.

Each engine writes transitions its own way (one statement on PostgreSQL, a
transaction of several on SQLite and MariaDB). A run of the story below
records every job's row and history, and the jobs the worker's functions hand
back (those signal receivers get), and compares them with ``EXPECTED``: the
same table on every database. A difference names the engine that drifted.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.test import override_settings
from django.utils import timezone as dj_timezone

from django_jobs import enqueue, schedule
from django_jobs.claimed import Claimed
from django_jobs.engines import claiming, cycle
from django_jobs.engines.completion import finish
from django_jobs.models import Job, JobHistory
from django_jobs.models import Worker as WorkerRow
from django_jobs.outcomes import Finished, Outcome
from django_jobs.steering import cancel, retry, trigger
from django_jobs.worker.liveness import recover_lost
from django_jobs.worker.overlap import spawn_runs

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
SETTINGS = {
    "RETRY_JITTER": False,
    "RETRY_BACKOFF_BASE": 10,
    "RETRY_BACKOFF_MAX": 3600,
    "WORKER_TIMEOUT": 30,
    "MISFIRE_GRACE": None,
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def offset(value: datetime | None) -> float | None:
    return None if value is None else (value - T0).total_seconds()


class Story:
    """Drives the worker's own functions with fixed instants; records what they return."""

    def __init__(self) -> None:
        self.a = WorkerRow.objects.create(name="a", hostname="h", pid=1)
        self.b = WorkerRow.objects.create(name="b", hostname="h", pid=2)
        self.names = {self.a.pk: "a", self.b.pk: "b"}
        self.memory: dict[int, list] = {}

    def claim(self, worker: WorkerRow, queue: str, now: float) -> list[Claimed]:
        batch = claiming.claim(worker, [queue], 10, at(now), "default")
        for claimed in batch:
            self.remember(claimed.job, "claimed")
        return batch

    def end(self, worker: WorkerRow, claimed: Claimed, ok: bool, now: float, *, cycle_=False):
        outcome = Outcome(
            claimed.job.pk,
            ok,
            at(now - 1),
            at(now),
            1000,
            result={"n": 1} if ok else None,
            error="" if ok else "ValueError: boom",
        )
        items = [Finished(claimed.job, outcome, run=claimed.run)]
        if cycle_:
            applied, _ = cycle.finish_and_claim(worker, items, ["none"], 10, at(now), "default")
        else:
            applied = finish(worker, items, at(now), "default")
        for item in applied:
            self.remember(item.job, "finished", str(item.history_status), item.will_retry)
        return applied

    def remember(self, job: Job, step: str, *extra) -> None:
        self.memory.setdefault(job.pk, []).append([step, *self.fields(job), *extra])

    def fields(self, job: Job) -> list:
        return [
            str(job.status),
            job.attempts,
            offset(job.next_run_at),
            offset(job.scheduled_for),
            job.last_error.split("\n")[0],
            job.consecutive_failures,
            job.missed_runs,
            job.cancel_requested,
            self.names.get(job.worker_id) if job.worker_id else None,
            offset(job.started_at),
            offset(job.last_run_at),
            offset(job.updated_at),
        ]

    def table(self) -> dict[str, dict]:
        result: dict[str, dict] = {}
        for job in Job.objects.order_by("name", "id"):
            runs = JobHistory.objects.filter(job=job).order_by("attempt", "id")
            # An overlap child has its parent's name.
            key = f"{job.name} (child)" if job.name in result else job.name
            result[key] = {
                "row": self.fields(job),
                "history": [
                    [
                        run.attempt,
                        run.status,
                        offset(run.scheduled_for),
                        run.worker,
                        offset(run.started_at),
                        offset(run.completed_at),
                        run.error.split("\n")[0],
                        run.result,
                    ]
                    for run in runs
                ],
                "memory": self.memory.get(job.pk, []),
            }
        return result


def one_time(name: str, *, queue: str, max_attempts: int = 3) -> Job:
    return enqueue("noop", name=name, queue=queue, run_at=at(0), max_attempts=max_attempts)


def recurring(name: str, *, queue: str, **options) -> Job:
    job = schedule(name, "noop", "0 * * * *", queue=queue, **options)
    Job.objects.filter(pk=job.pk).update(next_run_at=at(0), scheduled_for=at(0))
    return job


def play(story: Story) -> None:
    a, b = story.a, story.b
    # Succeeds at once; its outcome is written with the next claim (one cycle).
    one_time("ok", queue="ok")
    (job,) = story.claim(a, "ok", 1)
    story.end(a, job, True, 2, cycle_=True)

    # Fails, is retried after the backoff (10 s), then succeeds.
    one_time("retried", queue="retried")
    (job,) = story.claim(a, "retried", 1)
    story.end(a, job, False, 2)
    (job,) = story.claim(a, "retried", 12)
    story.end(a, job, True, 13)

    # One attempt only: it fails for good.
    one_time("dead", queue="dead", max_attempts=1)
    (job,) = story.claim(a, "dead", 1)
    story.end(a, job, False, 2, cycle_=True)

    # Cancelled while it runs; the handler still succeeds, or fails.
    for ok in (True, False):
        name = f"cancelled-{'ok' if ok else 'failing'}"
        one_time(name, queue=name)
        Job.objects.filter(name=name).update(last_error="earlier", consecutive_failures=2)
        (job,) = story.claim(a, name, 1)
        cancel(job.job.pk, now=at(2))
        story.end(a, job, ok, 3, cycle_=not ok)

    # Cancelled before anybody claims it.
    pending = one_time("cancelled-pending", queue="cancelled-pending")
    cancel(pending.pk, now=at(1))

    # Its worker dies mid-attempt: another worker recovers it, it runs again.
    one_time("lost", queue="lost")
    (job,) = story.claim(b, "lost", 1)
    WorkerRow.objects.filter(pk=b.pk).update(last_heartbeat=dj_timezone.now() - timedelta(days=1))
    assert recover_lost(now=at(5)) == 1
    (job,) = story.claim(a, "lost", 20)
    story.end(a, job, True, 21)

    # Recurring: the slot runs and the job waits for the next hour; then a cancel.
    recurring("hourly", queue="hourly")
    (job,) = story.claim(a, "hourly", 1)
    story.end(a, job, True, 2)
    (job,) = story.claim(a, "hourly", 3601)
    cancel(job.job.pk, now=at(3602))
    story.end(a, job, True, 3603, cycle_=True)

    # Recurring and failing for good: counted, then on to the next slot.
    recurring("hourly-failing", queue="hourly-failing", max_attempts=1)
    (job,) = story.claim(a, "hourly-failing", 1)
    story.end(a, job, False, 2)

    # A slot claimed past its misfire grace is skipped.
    recurring("missed", queue="missed", misfire_grace=60)
    assert story.claim(a, "missed", 120) == []

    # Overlap allowed: the slot goes to a child run, the job to its next slot.
    recurring("overlapping", queue="overlapping", allow_overlap=True)
    (job,) = story.claim(a, "overlapping", 1)
    (run,) = spawn_runs(a, [job], at(1), "default")
    story.remember(job.job, "handed over")
    story.end(a, run, True, 2)

    # Steering a finished job: retry the dead one, trigger the completed one.
    retry(Job.objects.get(name="dead").pk, now=at(30))
    trigger(Job.objects.get(name="ok").pk, now=at(31))


@override_settings(DJANGO_JOBS=SETTINGS)
def test_every_engine_leaves_the_same_rows_and_jobs():
    story = Story()
    play(story)
    table = story.table()
    if not EXPECTED:  # pragma: no cover - writing the table
        for name, entry in sorted(table.items()):
            print(f"EXPECTED|    {name!r}: {{")
            for part in ("row", "history", "memory"):
                print(f"EXPECTED|        {part!r}: {entry[part]!r},")
            print("EXPECTED|    },")
    assert sorted(table) == sorted(EXPECTED)
    for name, expected in EXPECTED.items():
        assert table[name] == expected, name


# Fields: status, attempts, next_run_at, scheduled_for, last_error (first line),
# consecutive_failures, missed_runs, cancel_requested, worker, started_at,
# last_run_at, updated_at; instants as seconds after T0.
# History: attempt, status, scheduled_for, worker, started_at, completed_at,
# error (first line), result.
# Memory: the step, the fields, then (after an outcome) the history status and
# whether it will be retried.
EXPECTED: dict[str, dict] = {
    "cancelled-failing": {
        "row": ["cancelled", 1, None, 0.0, "ValueError: boom", 2, 0, False, None, None, 1.0, 3.0],
        "history": [[1, "cancelled", 0.0, "a", 1.0, 3.0, "ValueError: boom", None]],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "earlier", 2, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "cancelled",
                1,
                None,
                0.0,
                "ValueError: boom",
                2,
                0,
                False,
                None,
                None,
                1.0,
                3.0,
                "cancelled",
                False,
            ],
        ],
    },
    "cancelled-ok": {
        "row": ["cancelled", 1, None, 0.0, "earlier", 2, 0, False, None, None, 1.0, 3.0],
        "history": [[1, "completed", 0.0, "a", 1.0, 3.0, "", {"n": 1}]],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "earlier", 2, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "cancelled",
                1,
                None,
                0.0,
                "earlier",
                2,
                0,
                False,
                None,
                None,
                1.0,
                3.0,
                "completed",
                False,
            ],
        ],
    },
    "cancelled-pending": {
        "row": ["cancelled", 0, None, 0.0, "", 0, 0, False, None, None, None, 1.0],
        "history": [],
        "memory": [],
    },
    "dead": {
        "row": ["pending", 0, 30.0, 30.0, "ValueError: boom", 0, 0, False, None, None, 1.0, 30.0],
        "history": [[1, "failed", 0.0, "a", 1.0, 2.0, "ValueError: boom", None]],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "failed",
                1,
                None,
                0.0,
                "ValueError: boom",
                0,
                0,
                False,
                None,
                None,
                1.0,
                2.0,
                "failed",
                False,
            ],
        ],
    },
    "hourly": {
        "row": ["cancelled", 1, None, 3600.0, "", 0, 0, False, None, None, 3601.0, 3603.0],
        "history": [
            [1, "completed", 0.0, "a", 1.0, 2.0, "", {"n": 1}],
            [1, "completed", 3600.0, "a", 3601.0, 3603.0, "", {"n": 1}],
        ],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "pending",
                0,
                3600.0,
                3600.0,
                "",
                0,
                0,
                False,
                None,
                None,
                1.0,
                2.0,
                "completed",
                False,
            ],
            ["claimed", "running", 1, 3600.0, 3600.0, "", 0, 0, False, "a", 3601.0, 3601.0, 3601.0],
            [
                "finished",
                "cancelled",
                1,
                None,
                3600.0,
                "",
                0,
                0,
                False,
                None,
                None,
                3601.0,
                3603.0,
                "completed",
                False,
            ],
        ],
    },
    "hourly-failing": {
        "row": [
            "pending",
            0,
            3600.0,
            3600.0,
            "ValueError: boom",
            1,
            0,
            False,
            None,
            None,
            1.0,
            2.0,
        ],
        "history": [[1, "failed", 0.0, "a", 1.0, 2.0, "ValueError: boom", None]],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "pending",
                0,
                3600.0,
                3600.0,
                "ValueError: boom",
                1,
                0,
                False,
                None,
                None,
                1.0,
                2.0,
                "failed",
                False,
            ],
        ],
    },
    "lost": {
        "row": ["completed", 2, None, 0.0, "", 0, 0, False, None, None, 20.0, 21.0],
        "history": [
            [
                1,
                "failed",
                0.0,
                "b",
                1.0,
                5.0,
                "worker lost: no heartbeat from b for 30s while the job was running",
                None,
            ],
            [2, "completed", 0.0, "a", 20.0, 21.0, "", {"n": 1}],
        ],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "b", 1.0, 1.0, 1.0],
            [
                "claimed",
                "running",
                2,
                15.0,
                0.0,
                "worker lost: no heartbeat from b for 30s while the job was running",
                0,
                0,
                False,
                "a",
                20.0,
                20.0,
                20.0,
            ],
            [
                "finished",
                "completed",
                2,
                None,
                0.0,
                "",
                0,
                0,
                False,
                None,
                None,
                20.0,
                21.0,
                "completed",
                False,
            ],
        ],
    },
    "missed": {
        "row": ["pending", 0, 3600.0, 3600.0, "", 0, 1, False, None, None, 120.0, 120.0],
        "history": [
            [
                1,
                "missed",
                0.0,
                "a",
                120.0,
                120.0,
                "slot 2030-01-01T00:00:00+00:00 missed its misfire grace",
                None,
            ]
        ],
        "memory": [],
    },
    "ok": {
        "row": ["pending", 0, 31.0, 31.0, "", 0, 0, False, None, None, 1.0, 31.0],
        "history": [[1, "completed", 0.0, "a", 1.0, 2.0, "", {"n": 1}]],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "completed",
                1,
                None,
                0.0,
                "",
                0,
                0,
                False,
                None,
                None,
                1.0,
                2.0,
                "completed",
                False,
            ],
        ],
    },
    "overlapping": {
        "row": ["pending", 0, 3600.0, 3600.0, "", 0, 0, False, None, None, 1.0, 1.0],
        "history": [],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "a", 1.0, 1.0, 1.0],
            ["handed over", "pending", 0, 3600.0, 3600.0, "", 0, 0, False, None, None, 1.0, 1.0],
        ],
    },
    "overlapping (child)": {
        "row": ["completed", 1, None, 0.0, "", 0, 0, False, None, None, 1.0, 2.0],
        "history": [[1, "completed", 0.0, "a", 1.0, 2.0, "", {"n": 1}]],
        "memory": [
            [
                "finished",
                "completed",
                1,
                None,
                0.0,
                "",
                0,
                0,
                False,
                None,
                None,
                1.0,
                2.0,
                "completed",
                False,
            ]
        ],
    },
    "retried": {
        "row": ["completed", 2, None, 0.0, "", 0, 0, False, None, None, 12.0, 13.0],
        "history": [
            [1, "failed", 0.0, "a", 1.0, 2.0, "ValueError: boom", None],
            [2, "completed", 0.0, "a", 12.0, 13.0, "", {"n": 1}],
        ],
        "memory": [
            ["claimed", "running", 1, 0.0, 0.0, "", 0, 0, False, "a", 1.0, 1.0, 1.0],
            [
                "finished",
                "pending",
                1,
                12.0,
                0.0,
                "ValueError: boom",
                0,
                0,
                False,
                None,
                None,
                1.0,
                2.0,
                "failed",
                True,
            ],
            [
                "claimed",
                "running",
                2,
                12.0,
                0.0,
                "ValueError: boom",
                0,
                0,
                False,
                "a",
                12.0,
                12.0,
                12.0,
            ],
            [
                "finished",
                "completed",
                2,
                None,
                0.0,
                "",
                0,
                0,
                False,
                None,
                None,
                12.0,
                13.0,
                "completed",
                False,
            ],
        ],
    },
}

"""Jobs, their run history, live workers and the runner switch."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

if TYPE_CHECKING:
    from .outcomes import Outcome


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # A recurring slot that was older than its misfire grace and did not run.
    MISSED = "missed", "Missed"
    # The handler raised ``Snooze``: the job comes back later, this attempt not counted.
    SNOOZED = "snoozed", "Snoozed"


FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
# A job in these states holds its unique key: no second live job may have it.
LIVE = (JobStatus.PENDING, JobStatus.RUNNING)
# Dead: a one-time job that failed for good, with no retry coming (``Job.objects.dead()``).
DEAD = Q(status=JobStatus.FAILED, schedule="")

# What a transition changes, for saving many jobs in one statement.
TRANSITION_FIELDS = [
    "status",
    "attempts",
    "next_run_at",
    "scheduled_for",
    "last_error",
    "consecutive_failures",
    "missed_runs",
    "cancel_requested",
    "worker",
    "started_at",
    "updated_at",
]


class UnreadableData(str):
    """The raw text of a ``data`` column that does not parse as JSON."""


class JobDataField(models.JSONField):
    """A ``JSONField`` that marks undecodable column text instead of passing it on as a string.

    Django's ``JSONField`` returns the raw text when it cannot decode it, which
    would hand a handler a string nobody stored. Rows written by hand can hold
    such text where the database does not check JSON (SQLite and MariaDB with
    their checks turned off); the worker fails those jobs with a clear error.
    """

    def from_db_value(self, value, expression, connection):
        decoded = super().from_db_value(value, expression, connection)
        if isinstance(decoded, str) and decoded is value:
            try:
                json.loads(value)
            except ValueError:
                return UnreadableData(value)
        return decoded

    def deconstruct(self):
        # Stored exactly like a JSONField: no migration, no schema difference.
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


class JobQuerySet(models.QuerySet["Job"]):
    def pending(self) -> JobQuerySet:
        return self.filter(status=JobStatus.PENDING)

    def running(self) -> JobQuerySet:
        return self.filter(status=JobStatus.RUNNING)

    def due(self, now: datetime | None = None) -> JobQuerySet:
        """Pending jobs whose time has come, in the order workers take them."""
        now = now or dj_timezone.now()
        return self.filter(status=JobStatus.PENDING, paused=False, next_run_at__lte=now).order_by(
            "-priority", "next_run_at", "id"
        )

    def recurring(self) -> JobQuerySet:
        return self.exclude(schedule="")

    def one_time(self) -> JobQuerySet:
        return self.filter(schedule="")

    def finished(self) -> JobQuerySet:
        return self.filter(status__in=FINISHED)

    def live(self) -> JobQuerySet:
        return self.filter(status__in=LIVE)

    def waiting(self) -> JobQuerySet:
        """Pending jobs that wait for dependencies to finish: never due until released."""
        return self.filter(status=JobStatus.PENDING, waiting_on__gt=0)

    def dead(self) -> JobQuerySet:
        """One-time jobs that failed for good: no retry is coming."""
        return self.filter(DEAD)


class DependencyFailure(models.TextChoices):
    """What a dependent does when one of its dependencies fails for good or is cancelled."""

    CANCEL = "cancel", "Cancel"
    RUN = "run", "Run anyway"


class Job(models.Model):
    """A one-time job (empty ``schedule``) or a recurring one that returns to pending."""

    name = models.CharField(max_length=200)
    handler = models.CharField(max_length=200)
    data = JobDataField(null=True, blank=True)
    schedule = models.CharField(max_length=200, blank=True, default="")
    # IANA zone the cron expression is read in; empty means settings.TIME_ZONE.
    timezone = models.CharField(max_length=64, blank=True, default="")
    # Set by schedule(): the stable identity of a declared recurring job.
    # Unique by a constraint (see Meta), which on PostgreSQL spares every write
    # the second, pattern-matching index a unique field gets. NULL, not "":
    # the many jobs without a key must not collide.
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # enqueue(unique_key=...): at most one live job holds it (see Meta and unique.py).
    unique_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    queue = models.CharField(max_length=64, default="default")
    priority = models.SmallIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    # Seconds a run may take; None falls back to DJANGO_JOBS["DEFAULT_TIMEOUT"].
    timeout = models.FloatField(null=True, blank=True)
    # Seconds after its slot a missed run still fires; None falls back to the setting.
    misfire_grace = models.FloatField(null=True, blank=True)
    allow_overlap = models.BooleanField(default=False)
    # When a worker may take it next (the slot, a retry time, or now on trigger).
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The slot the current occurrence belongs to; kept across its retries.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Occurrences of a recurring job that used up their retries, since its last success.
    consecutive_failures = models.PositiveIntegerField(default=0)
    missed_runs = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # A paused recurring job keeps its schedule and is never claimed (steering.pause).
    paused = models.BooleanField(default=False)
    # Set only while running; indexed by django_jobs_running_idx (see Meta).
    worker = models.ForeignKey(
        "Worker",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        db_index=False,
    )
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # A named limit of DJANGO_JOBS["LIMITS"] (see limits.py), partitioned by limit_key.
    # Limited jobs stay out of the claim index: a second claim pass takes them.
    limit = models.CharField(max_length=100, blank=True, default="")
    limit_key = models.CharField(max_length=200, blank=True, default="")
    # Dependencies (see dependencies.py). A waiting job is pending with no
    # next_run_at, so no claim ever sees it; the transaction that finishes its
    # last dependency sets next_run_at. The flags spare jobs outside any graph
    # every look-up: only a job with has_dependents makes its completion settle.
    waiting_on = models.PositiveIntegerField(default=0, help_text="dependencies not finished yet")
    has_dependencies = models.BooleanField(default=False)
    has_dependents = models.BooleanField(default=False)
    on_dependency_failure = models.CharField(
        max_length=8, choices=DependencyFailure.choices, default=DependencyFailure.CANCEL
    )
    # The running attempt's ctx.progress (progress.py); cleared when an attempt starts.
    # Written apart from the transitions, so none of them is in TRANSITION_FIELDS.
    progress = models.FloatField(null=True, blank=True, help_text="0 to 1")
    PROGRESS_MESSAGE_SIZE = 200
    progress_message = models.CharField(max_length=PROGRESS_MESSAGE_SIZE, blank=True, default="")
    progress_at = models.DateTimeField(null=True, blank=True)
    # Endpoints of DJANGO_JOBS["WEBHOOKS"] this job's events go to beyond those whose
    # filters match it, comma-separated (``webhooks.config.clean_job_webhooks``).
    webhooks = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Endpoints of DJANGO_JOBS['WEBHOOKS'] that get this job's events whatever "
        "their filters, comma-separated.",
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The claim reads only runnable rows: finished and limited rows stay out of it.
            models.Index(
                fields=["-priority", "next_run_at", "id"],
                name="django_jobs_claim_idx",
                condition=Q(status="pending", limit=""),
            ),
            # The limited claim's pass (limits.py): pending limited jobs by limit and key.
            models.Index(
                fields=["limit", "limit_key", "-priority", "next_run_at", "id"],
                name="django_jobs_limited_idx",
                condition=Q(status="pending") & ~Q(limit=""),
            ),
            # A worker holds only running jobs, so this indexes just those; it
            # serves the worker's lookups and the foreign key's checks alike.
            models.Index(
                fields=["worker"],
                name="django_jobs_running_idx",
                condition=Q(worker__isnull=False),
            ),
            models.Index(fields=["status", "-id"], name="django_jobs_status_idx"),
            models.Index(fields=["handler", "-id"], name="django_jobs_handler_idx"),
            # The dashboard's sort indexes are not here: every version of a row
            # (enqueue, claim, completion) writes an entry in each index, and
            # those four cost the workers a fifth of their database time. A big
            # installation creates them (dashboard/indexes.py, ``dashboardindexes``).
            # The few recurring jobs, by name, for the dashboard's list of them.
            models.Index(
                fields=["name", "id"],
                name="django_jobs_recurring_idx",
                condition=~Q(schedule=""),
            ),
        ]
        constraints = [
            # Partial, so the one-time jobs' NULL keys (nearly every row) are not
            # written to it at each version of their rows. MySQL/MariaDB have no
            # partial indexes: migration 0013 gives them a plain unique index,
            # which lets NULLs repeat all the same.
            models.UniqueConstraint(
                fields=["key"], condition=Q(key__isnull=False), name="django_jobs_unique_key"
            ),
            # Partial: a finished job frees its key. MySQL/MariaDB have no partial
            # indexes; migration 0007 gives them a generated column instead.
            models.UniqueConstraint(
                fields=["unique_key"],
                condition=Q(status__in=["pending", "running"], unique_key__isnull=False),
                name="django_jobs_live_unique_key",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1), name="django_jobs_max_attempts_gte_1"
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_run_at__isnull=False) | Q(waiting_on__gt=0),
                name="django_jobs_pending_has_next_run_at",
            ),
            # A job waiting for dependencies is never due (nor running).
            models.CheckConstraint(
                condition=Q(waiting_on=0) | (~Q(status="running") & Q(next_run_at__isnull=True)),
                name="django_jobs_waiting_not_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    @property
    def is_recurring(self) -> bool:
        return bool(self.schedule)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_dead(self) -> bool:
        """``DEAD`` for a job in memory: a one-time job that failed for good."""
        return self.status == JobStatus.FAILED and not self.schedule

    def get_schedule(self):  # -> Schedule
        from .schedules import parse_schedule

        return parse_schedule(self.schedule, self.timezone or None)

    def next_slot(self, after: datetime) -> datetime:
        """The first slot of this recurring job strictly after ``after``."""
        return self.get_schedule().next_slot(after, anchor=self.created_at)

    # Transitions: each changes the instance only, ``updated_at`` included; the
    # caller saves them, many at a time, with the engine's ``update_rows``.
    # Those written as a conditional UPDATE instead come as a mapping of
    # field -> value (``requeued``, ``cancelled``), which the method applies too.

    def claim(self, worker_id: int, now: datetime) -> None:
        """Taken by a worker: running, one more attempt (the claim statements write the same)."""
        self.status = JobStatus.RUNNING
        self.worker_id = worker_id
        self.attempts += 1
        self.started_at = self.last_run_at = self.updated_at = now
        self.progress, self.progress_message, self.progress_at = None, "", None

    def succeed(self, now: datetime) -> None:
        """The attempt succeeded: done, or a recurring job's next slot."""
        self._release(now)
        self.last_error = ""
        self.consecutive_failures = 0
        if self.is_recurring:
            self._next_occurrence(now)
        else:
            self.status = JobStatus.COMPLETED
            self.next_run_at = None

    def fail(self, now: datetime, error: str, retry_at: datetime | None) -> bool:
        """Record a failed attempt; returns whether it will be retried (at ``retry_at``).

        Without ``retry_at``, or with no attempts left, it is not. A recurring
        occurrence that used up its retries does not kill the job: it counts in
        ``consecutive_failures`` and the job waits for its next slot.
        """
        self._release(now)
        self.last_error = error
        if retry_at is not None and self.attempts < self.max_attempts:
            self.status = JobStatus.PENDING
            self.next_run_at = retry_at
            return True
        if self.is_recurring:
            self.consecutive_failures += 1
            self._next_occurrence(now)
        else:
            self.status = JobStatus.FAILED
            self.next_run_at = None
        return False

    def lose(self, now: datetime, error: str, retry_at: datetime | None) -> bool:
        """Its worker vanished mid-attempt: the attempt failed with ``error`` (see ``fail``)."""
        return self.fail(now, error, retry_at)

    def refuse(self, now: datetime, error: str) -> None:
        """The database refused to start it: failed for good, whatever its schedule."""
        self._release(now)
        self.status = JobStatus.FAILED
        self.next_run_at = None
        self.last_error = error

    def cancel(self, now: datetime) -> None:
        """Cancelled: neither retried nor rescheduled; it keeps its other values."""
        self._apply(self.cancelled(now))

    @staticmethod
    def asked_to_cancel(now: datetime) -> dict[str, Any]:
        """What asking a running job to stop writes; its attempt's end then cancels it."""
        return {"cancel_requested": True, "updated_at": now}

    @staticmethod
    def cancelled(now: datetime) -> dict[str, Any]:
        """What cancelling writes (the one definition: PostgreSQL's completion is built on it)."""
        return {**CANCELLED, "updated_at": now}

    def requeue(self, now: datetime) -> None:
        """Triggered or retried: due now, fresh attempts; a recurring job keeps its schedule."""
        self._apply(self.requeued(now))

    @staticmethod
    def requeued(now: datetime) -> dict[str, Any]:
        """What a trigger or a retry writes; a job waiting for dependencies stops waiting."""
        return {
            "status": JobStatus.PENDING,
            "attempts": 0,
            "next_run_at": now,
            "scheduled_for": now,
            "cancel_requested": False,
            "waiting_on": 0,
            "updated_at": now,
        }

    def hand_over(self, now: datetime) -> None:
        """Its slot's run went to an overlap child: the job moves on to its next slot."""
        self._release(now)
        self._next_occurrence(now)

    def miss(self, now: datetime) -> None:
        """Skip a slot older than the misfire grace and wait for the next one."""
        self._release(now)
        self.missed_runs += 1
        self._next_occurrence(now)

    def snooze(self, now: datetime, until: datetime) -> None:
        """The handler asked to come back at ``until``: pending, its attempt given back.

        The occurrence moves to ``until`` (``scheduled_for`` too), so the next
        attempt, which has the same number, gets a history row of its own.
        """
        self._release(now)
        self.status = JobStatus.PENDING
        self.attempts = max(0, self.attempts - 1)
        self.next_run_at = self.scheduled_for = until

    def give_back(self, now: datetime) -> None:
        """Give back a claim whose handler never started: that attempt does not count."""
        self._release(now)
        self.status = JobStatus.PENDING
        self.attempts = max(0, self.attempts - 1)

    def _apply(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, _ATTNAMES.get(name, name), value)

    def _release(self, now: datetime) -> None:
        self.worker_id = None
        self.started_at = None
        self.cancel_requested = False
        self.updated_at = now

    def _next_occurrence(self, now: datetime) -> None:
        """Move a recurring job to its next slot; missed slots collapse into that one.

        A stored schedule that no longer yields a slot (edited by hand, a zone
        that vanished) fails the job with the reason instead of raising, so the
        outcomes written with it in one batch are not lost.
        """
        try:
            slot = self.next_slot(max(now, self.scheduled_for or now))
        except Exception as exc:
            self.status = JobStatus.FAILED
            self.next_run_at = None
            self.last_error = f"the schedule {self.schedule!r} cannot be used: {exc}"
            return
        self.status = JobStatus.PENDING
        self.attempts = 0
        self.next_run_at = self.scheduled_for = slot


# What cancelling changes (with ``updated_at``); every other field keeps its value.
CANCELLED: dict[str, Any] = {
    "status": JobStatus.CANCELLED,
    "next_run_at": None,
    "worker": None,
    "started_at": None,
    "cancel_requested": False,
}
_ATTNAMES = {"worker": "worker_id"}


class JobHistory(models.Model):
    """One attempt at running a job, written when it is claimed."""

    # Indexed by the two indexes below that lead with it; a third would only cost writes.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="history", db_index=False)
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    attempt = models.PositiveIntegerField(default=1)
    # The slot this attempt ran for: unique with the attempt, so a slot cannot fire twice.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(default=dj_timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="milliseconds")

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "job history"
        indexes = [
            models.Index(fields=["job", "-started_at"], name="django_jobs_hist_job_idx"),
            models.Index(fields=["-started_at"], name="django_jobs_hist_started_idx"),
            models.Index(fields=["status", "-started_at"], name="django_jobs_hist_status_idx"),
            # The dashboard's figures count finished runs by the minute they finished in.
            models.Index(fields=["completed_at"], name="django_jobs_hist_done_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "scheduled_for", "attempt"], name="django_jobs_one_run_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job.name}, attempt {self.attempt}"

    # Transitions of an attempt; saved in bulk with the engine's ``update_rows``.

    def finish(self, status: str, outcome: Outcome) -> None:
        """The attempt ended with ``outcome``, recorded as ``status``."""
        self.status = status
        self.completed_at = outcome.finished_at
        self.error = f"{outcome.error}\n\n{outcome.note}" if outcome.note else outcome.error
        if outcome.note and not outcome.error:
            self.error = outcome.note
        self.result = outcome.result
        self.duration = outcome.duration_ms

    def miss(self, now: datetime) -> None:
        """Its slot was older than the misfire grace: it never ran."""
        self.status = RunStatus.MISSED
        self.completed_at = now
        slot = self.scheduled_for.isoformat() if self.scheduled_for else "?"
        self.error = f"slot {slot} missed its misfire grace"
        self.duration = 0

    @staticmethod
    def failed(now: datetime, error: str) -> dict[str, Any]:
        """What failing a running attempt from outside writes (lost worker, interrupted)."""
        return {"status": RunStatus.FAILED, "error": error, "completed_at": now}


class LimitKey(models.Model):
    """One (limit, key) of ``LIMITS``: the row its claimers lock, one at a time.

    Created the first time a job of that key is claimed. Locking it (``SKIP
    LOCKED`` where the database has it) serialises the claimers of one key, so
    the count of running jobs and of recent starts they read stays true until
    they commit.
    """

    limit = models.CharField(max_length=100)
    key = models.CharField(max_length=200, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["limit", "key"], name="django_jobs_one_limit_key")
        ]

    def __str__(self) -> str:
        return f"{self.limit}[{self.key}]" if self.key else self.limit


class LimitStart(models.Model):
    """Jobs of one (limit, key) started at one instant: the log a rate's window counts.

    Only rate limits write it; rows older than the period are deleted by the
    next claim of that key.
    """

    limit = models.CharField(max_length=100)
    key = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["limit", "key", "started_at"], name="django_jobs_limit_start_idx")
        ]

    def __str__(self) -> str:
        return f"{self.limit}[{self.key}] x{self.count} at {self.started_at:%H:%M:%S}"


class JobDependency(models.Model):
    """``job`` waits for ``depends_on``; ``settled`` once that one finished and was counted."""

    # Indexed by the unique constraint, which leads with it.
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="dependency_links", db_index=False
    )
    depends_on = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dependent_links")
    settled = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "depends_on"], name="django_jobs_one_dependency"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} waits for job {self.depends_on_id}"


class Worker(models.Model):
    """A live ``runjobs`` process; its heartbeat says it is still there."""

    name = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    queues = models.CharField(max_length=500, blank=True, default="")
    concurrency = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(default=dj_timezone.now)
    last_heartbeat = models.DateTimeField(default=dj_timezone.now, db_index=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return self.name


class Runner(models.Model):
    """The switch every worker obeys: one row, created on first use."""

    SINGLETON_ID = 1
    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    running = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "runner"

    def __str__(self) -> str:
        return "running" if self.running else "stopped"

    @classmethod
    def is_running(cls, using: str | None = None) -> bool:
        """Whether workers may take jobs; ``RUNNER_ENABLED`` until somebody switched it."""
        from .conf import jobs_settings

        manager = cls.objects.using(using) if using else cls.objects
        value = manager.filter(pk=cls.SINGLETON_ID).values_list("running", flat=True).first()
        return bool(jobs_settings.RUNNER_ENABLED) if value is None else value

    @classmethod
    def switch(cls, running: bool) -> bool:
        """Turn the switch on or off for every worker; on wakes idle workers at once."""
        from .engines import notify

        cls.objects.update_or_create(pk=cls.SINGLETON_ID, defaults={"running": bool(running)})
        if running:
            notify.job_available(None)
        return bool(running)


# Upper bounds (milliseconds) of the run-duration histogram kept in RunHour.
DURATION_BOUNDS_MS = (10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000, 300000)


def _bucket_fields() -> dict[str, models.Field]:
    return {f"le_{ms}": models.PositiveIntegerField(default=0) for ms in DURATION_BOUNDS_MS}


class RunHour(models.Model):
    """Finished runs of one handler on one queue in one closed hour (a roll-up).

    The dashboard and the metrics endpoint fill it from the history's finish-time
    index (``django_jobs.dashboard.rollup``) so that figures over days read a
    few thousand rows instead of every history row. ``le_<ms>`` count runs that
    took at most that long, like a Prometheus histogram.
    """

    hour = models.DateTimeField()
    handler = models.CharField(max_length=200)
    queue = models.CharField(max_length=64)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    locals().update(_bucket_fields())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "handler", "queue"], name="django_jobs_run_hour_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.handler}@{self.queue}"


class QueueSample(models.Model):
    """How many jobs were due in one queue at the start of one minute, and the oldest's age.

    Written at most once a minute by whoever reads the figures (the dashboard,
    the metrics endpoint), so the depth can be drawn over time.
    """

    minute = models.DateTimeField()
    queue = models.CharField(max_length=64)
    depth = models.PositiveIntegerField(default=0)
    oldest_due_seconds = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "queue"], name="django_jobs_queue_sample_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.queue}: {self.depth}"


class FailureHour(models.Model):
    """Failed attempts of one handler with one error type in one closed hour (a roll-up).

    Filled with ``RunHour`` (``django_jobs.dashboard.rollup``) so that the
    failures page groups a few rows per hour instead of every failed attempt.
    ``newest`` is the id of the hour's latest failed history row, whose
    traceback the page shows.
    """

    hour = models.DateTimeField()
    handler = models.CharField(max_length=200)
    error_type = models.CharField(max_length=200)
    failed = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField()
    newest = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "handler", "error_type"], name="django_jobs_failure_hour_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.handler}: {self.error_type}"


class RollupRange(models.Model):
    """The closed hours ``[start, end)`` the roll-up tables cover.

    The roll-up grows at both ends a few hours at a time, so no single read
    pays for rolling up days of history; hours outside the range are read from
    the history itself.
    """

    name = models.CharField(max_length=32, primary_key=True)
    start = models.DateTimeField()
    end = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.start:%Y-%m-%d %H:00} to {self.end:%Y-%m-%d %H:00}"

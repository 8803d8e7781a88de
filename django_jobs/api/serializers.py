"""What the API reads and writes; input is checked by the ``validation.clean_*`` rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from .. import dependencies, limits
from ..conf import jobs_settings
from ..creating import build_job
from ..exceptions import InvalidJob, InvalidSchedule
from ..models import DependencyFailure, Job, JobHistory
from ..schedules import Schedule, parse_schedule
from ..validation import (
    DATA_DEPTH_MAX,
    NAME_MAX,
    ON_CONFLICT,
    PRIORITY_RANGE,
    QUEUE_MAX,
    TIMEOUT_MAX,
    UNIQUE_KEY_MAX,
    clean_handler,
    clean_max_attempts,
    clean_name,
    clean_priority,
    clean_queue,
    clean_schedule,
    clean_seconds,
    clean_timezone,
    clean_unique_key,
)
from ..webhooks.config import clean_job_webhooks, job_webhooks
from ..webhooks.config import names_schema as webhook_names_schema
from . import schema as _schema  # noqa: F401  (registers the OpenAPI extension)
from .fields import (
    CleanedCharField,
    CleanedFloatField,
    CleanedIntegerField,
    CleanedListField,
    DataField,
    InstantField,
)
from .schema import extend_schema_field

NEXT_RUNS = 5
SCHEDULE_MAX = Job._meta.get_field("schedule").max_length
TIMEZONE_MAX = Job._meta.get_field("timezone").max_length


# Reading -----------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _parsed(expression: str, tz: str) -> Schedule:
    return parse_schedule(expression, tz)


def schedule_of(job: Job) -> Schedule | None:
    """The job's parsed schedule, cached across rows; None for one-time jobs or a bad row."""
    if not job.schedule:
        return None
    try:
        return _parsed(job.schedule, job.timezone or settings.TIME_ZONE or "UTC")
    except (ValueError, OverflowError):
        return None


def upcoming(schedule: Schedule, job: Job, now: datetime, count: int = NEXT_RUNS) -> list[datetime]:
    try:
        return schedule.next_runs(now, count, anchor=job.created_at)
    except (ValueError, OverflowError):
        return []


class ScheduleDescriptionField(serializers.CharField):
    """The schedule in plain words; null for a one-time job."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, job: Job) -> str | None:
        schedule = schedule_of(job)
        return schedule.describe() if schedule else None


class NextRunsField(serializers.ListField):
    """The next five slots of a recurring job that can still run; empty otherwise."""

    child = serializers.DateTimeField()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, job: Job) -> list[str]:
        schedule = schedule_of(job)
        if schedule is None or job.is_finished:
            return []
        return [
            self.child.to_representation(run) for run in upcoming(schedule, job, timezone.now())
        ]


class LinkedJobsField(serializers.ListField):
    """Ids of the jobs this one waits for (``depends_on``) or that wait for it (``dependents``).

    Read from ``context["links"]`` when the list view fetched a page's links at
    once; a job outside any graph costs no query either way.
    """

    child = serializers.IntegerField()

    def __init__(self, side: str, **kwargs: Any) -> None:
        self.side = side
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, job: Job) -> list[int]:
        links = self.context.get("links")
        if links is not None:
            return links[self.side].get(job.pk, [])
        if self.side == "depends_on":
            return dependencies.dependency_ids(job)
        return dependencies.dependent_ids(job)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class WebhookNamesField(serializers.Field):
    """A job's own endpoints (``webhooks``), as a list."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, job: Job) -> list[str]:
        return sorted(job_webhooks(job.webhooks))


class JobSerializer(serializers.ModelSerializer):
    """Everything on a job, plus its schedule in words and its next runs."""

    worker = serializers.CharField(source="worker.name", read_only=True, allow_null=True)
    is_recurring = serializers.BooleanField(read_only=True)
    schedule_description = ScheduleDescriptionField()
    next_runs = NextRunsField()
    depends_on = LinkedJobsField("depends_on", help_text="Ids of the jobs it waits for.")
    dependents = LinkedJobsField("dependents", help_text="Ids of the jobs that wait for it.")
    webhooks = WebhookNamesField(help_text="Endpoints its events go to beyond the filters.")

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "handler",
            "data",
            "schedule",
            "timezone",
            "is_recurring",
            "schedule_description",
            "next_runs",
            "key",
            "unique_key",
            "status",
            "queue",
            "priority",
            "attempts",
            "max_attempts",
            "timeout",
            "misfire_grace",
            "allow_overlap",
            "limit",
            "limit_key",
            "next_run_at",
            "scheduled_for",
            "last_run_at",
            "last_error",
            "consecutive_failures",
            "missed_runs",
            "cancel_requested",
            "paused",
            "worker",
            "started_at",
            "created_at",
            "updated_at",
            "waiting_on",
            "on_dependency_failure",
            "depends_on",
            "dependents",
            "progress",
            "progress_message",
            "progress_at",
            "webhooks",
        ]
        read_only_fields = fields


class CreatedJobSerializer(JobSerializer):
    """The answer to ``POST jobs``: ``duplicate`` when a live job held the unique key."""

    duplicate = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "duplicate"]
        read_only_fields = fields

    def get_duplicate(self, job: Job) -> bool:
        return bool(self.context.get("duplicate", False))


class JobHistorySerializer(serializers.ModelSerializer):
    """One attempt at running a job; ``duration`` is in milliseconds."""

    class Meta:
        model = JobHistory
        fields = [
            "id",
            "job",
            "status",
            "attempt",
            "scheduled_for",
            "worker",
            "started_at",
            "completed_at",
            "error",
            "result",
            "duration",
        ]
        read_only_fields = fields


# Writing -----------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuse keys it does not know, so a typo is an error rather than a silent no-op."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: [self._refusal(key)] for key in unknown})
        return super().to_internal_value(data)

    def _refusal(self, key: str) -> str:
        if key in JobSerializer.Meta.fields:
            return f"{key} is set by the server and cannot be written"
        return f"unknown field; accepted fields: {', '.join(self.fields)}"


# What the clean_* rules accept beyond DRF's own checks, for the OpenAPI schema.
NAME_SCHEMA = {"pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$"}  # not blank, no NUL
HANDLER_SCHEMA = {"minLength": 1}
QUEUE_SCHEMA = {"pattern": r"^[^,\u0000]+$"}
SECONDS_SCHEMA = {"minimum": 0, "exclusiveMinimum": True}


def _optional(field_class: type[serializers.Field], **kwargs: Any) -> serializers.Field:
    return field_class(required=False, allow_null=True, **kwargs)


class JobFieldsSerializer(StrictSerializer):
    """The writable fields of a job; null means "the default"."""

    name = _optional(
        CleanedCharField,
        clean=clean_name,
        schema=NAME_SCHEMA,
        max_length=NAME_MAX,
        help_text="Defaults to the handler's name.",
    )
    handler = CleanedCharField(
        clean=clean_handler,
        schema=HANDLER_SCHEMA,
        max_length=200,
        help_text="A registered handler name.",
    )
    data = _optional(
        DataField,
        help_text=(
            "Any JSON, up to DJANGO_JOBS['MAX_DATA_BYTES'] once encoded and "
            f"{DATA_DEPTH_MAX} levels deep; no NUL or lone surrogate in a string or key."
        ),
    )
    schedule = _optional(
        serializers.CharField,
        allow_blank=True,
        max_length=SCHEDULE_MAX,
        help_text="5-field cron or an interval (30s, 5m, 2h, 1d); empty for a one-time job.",
    )
    timezone = _optional(
        serializers.CharField,
        allow_blank=True,
        max_length=TIMEZONE_MAX,
        help_text="IANA zone the cron fields are read in; empty means settings.TIME_ZONE.",
    )
    max_attempts = _optional(
        CleanedIntegerField,
        clean=clean_max_attempts,
        schema=lambda: {"maximum": int(jobs_settings.MAX_ATTEMPTS_LIMIT)},
        min_value=1,
        help_text="Attempts per run, up to DJANGO_JOBS['MAX_ATTEMPTS_LIMIT'].",
    )
    run_at = _optional(
        InstantField,
        help_text="When a one-time job is due, with an offset; not with a schedule.",
    )
    queue = _optional(
        CleanedCharField, clean=clean_queue, schema=QUEUE_SCHEMA, max_length=QUEUE_MAX
    )
    priority = _optional(
        CleanedIntegerField,
        clean=clean_priority,
        min_value=PRIORITY_RANGE[0],
        max_value=PRIORITY_RANGE[1],
    )
    timeout = _optional(
        CleanedFloatField,
        clean=partial(clean_seconds, "timeout"),
        schema=SECONDS_SCHEMA,
        max_value=TIMEOUT_MAX,
    )
    misfire_grace = _optional(
        CleanedFloatField,
        clean=partial(clean_seconds, "misfire_grace"),
        schema=SECONDS_SCHEMA,
        max_value=TIMEOUT_MAX,
    )
    allow_overlap = serializers.BooleanField(required=False)
    webhooks = _optional(
        CleanedListField,
        clean=lambda value: _webhook_names(value),
        schema=webhook_names_schema,
        child=serializers.CharField(min_length=1, max_length=200),
        help_text="Endpoints of DJANGO_JOBS['WEBHOOKS'] its events go to besides those whose "
        "filters match it.",
    )


def _webhook_names(value: Any) -> str:
    """A list of configured endpoint names (one string of them is refused: say a list)."""
    if isinstance(value, str):
        raise InvalidJob("webhooks", "a list of endpoint names from DJANGO_JOBS['WEBHOOKS']")
    return clean_job_webhooks(value)


def service_errors(exc: ValueError) -> serializers.ValidationError:
    if isinstance(exc, InvalidJob):
        return serializers.ValidationError({exc.field: [exc.message]})
    return serializers.ValidationError({"schedule": [str(exc)]})


class UniqueFieldsMixin(serializers.Serializer):
    """``unique_key`` and ``on_conflict`` of a new one-time job (see ``enqueue``)."""

    unique_key = _optional(
        CleanedCharField,
        clean=clean_unique_key,
        max_length=UNIQUE_KEY_MAX,
        help_text="While a pending or running job holds this key, that job is answered instead.",
    )
    on_conflict = _optional(
        serializers.ChoiceField,
        choices=ON_CONFLICT,
        help_text="return (default: 200 with the live job) or raise (409).",
    )


class DependencyFieldsMixin(serializers.Serializer):
    """``depends_on`` and ``on_dependency_failure`` of a new one-time job (see ``enqueue``)."""

    depends_on = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_null=True,
        help_text="Ids of jobs it waits for: it runs once they all completed.",
    )
    on_dependency_failure = _optional(
        serializers.ChoiceField,
        choices=DependencyFailure.choices,
        help_text="When a dependency fails for good or is cancelled: cancel (default) or run.",
    )


REF_MAX = 100


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "minLength": 1, "maxLength": REF_MAX},
        ]
    }
)
class BulkDependencyField(serializers.Field):
    """In ``jobs/bulk``: a job id, or the ``ref`` of an earlier item of the request.

    Only the shape is checked here; ``dependencies.plan`` judges the refs.
    """

    default_error_messages = {
        "invalid": "Expected a job id (a positive integer) or the ref of an earlier item.",
    }

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, int) and not isinstance(data, bool) and data >= 1:
            return data
        if isinstance(data, str) and 0 < len(data) <= REF_MAX:
            return data
        self.fail("invalid")
        raise AssertionError  # fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


class BulkDependencyFieldsMixin(DependencyFieldsMixin):
    """``DependencyFieldsMixin`` plus ``ref``: items may depend on earlier items."""

    depends_on = serializers.ListField(
        child=BulkDependencyField(),
        required=False,
        allow_null=True,
        help_text=(
            "Jobs it waits for: ids of existing jobs, or the ref of an item earlier in "
            "this request."
        ),
    )
    ref = _optional(
        serializers.CharField,
        min_length=1,
        max_length=REF_MAX,
        help_text="A name for this item, unique in the request, that later items' "
        "depends_on can use.",
    )


class LimitFieldsMixin(serializers.Serializer):
    """``limit`` and ``limit_key`` of a new job (see ``enqueue``); fixed once it exists."""

    limit = _optional(
        CleanedCharField,
        clean=limits.clean_name,
        schema=limits.names_schema,
        max_length=100,
        help_text="A limit of DJANGO_JOBS['LIMITS']; null: the handler's; empty: none.",
    )
    limit_key = _optional(
        serializers.CharField,
        allow_blank=True,
        max_length=200,
        help_text="The key the limit is counted by (each key has the whole limit).",
    )


class JobCreateSerializer(
    DependencyFieldsMixin, LimitFieldsMixin, UniqueFieldsMixin, JobFieldsSerializer
):
    """A new job: one-time, or recurring when ``schedule`` is given."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unique = {name: attrs.pop(name, None) for name in ("unique_key", "on_conflict")}
        graph = {name: attrs.pop(name, None) for name in ("depends_on", "on_dependency_failure")}
        if attrs.get("schedule") and any(value is not None for value in graph.values()):
            raise serializers.ValidationError({"depends_on": ["depends_on is for one-time jobs"]})
        if attrs.get("schedule") and unique["unique_key"] is not None:
            raise serializers.ValidationError({"unique_key": ["unique_key is for one-time jobs"]})
        options = {k: v for k, v in attrs.items() if k not in ("handler", "schedule", "timezone")}
        try:
            job = build_job(
                attrs["handler"],
                schedule=attrs.get("schedule") or "",
                timezone_name=attrs.get("timezone") or "",
                **options,
            )
        except (InvalidJob, InvalidSchedule, OverflowError) as exc:
            raise service_errors(exc) from None
        # A recurring name another recurring job holds is refused when it is
        # inserted (creating.save_new), by the database's constraint.
        return {"job": job, **unique, **graph}


class JobUpdateSerializer(JobFieldsSerializer):
    """Any subset of the writable fields (PUT takes a partial body too)."""

    handler = CleanedCharField(
        clean=clean_handler, schema=HANDLER_SCHEMA, max_length=200, required=False
    )


class BulkJobSerializer(
    BulkDependencyFieldsMixin, LimitFieldsMixin, UniqueFieldsMixin, JobFieldsSerializer
):
    """One one-time job of a bulk request; see ``creating.enqueue_many``."""

    schedule = None
    timezone = None


# Other endpoints ----------------------------------------------------------------------


class RunningJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    handler = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField()
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    queues = serializers.ListField(child=serializers.CharField())
    concurrency = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    last_heartbeat = serializers.DateTimeField()
    heartbeat_age = serializers.FloatField(help_text="Seconds since the last heartbeat.")
    alive = serializers.BooleanField(help_text="Heartbeat younger than WORKER_TIMEOUT.")
    running_jobs = RunningJobSerializer(many=True)


class RunnerSerializer(serializers.Serializer):
    running = serializers.BooleanField(help_text="Whether workers may take jobs.")
    live_workers = serializers.IntegerField(help_text="Workers whose heartbeat is fresh.")
    workers = WorkerSerializer(many=True)


class HandlerSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(help_text="The handler's docstring.")
    is_async = serializers.BooleanField()
    takes_ctx = serializers.BooleanField()


class CountsByStatusSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    running = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    by_status = CountsByStatusSerializer()
    total = serializers.IntegerField()
    due_now = serializers.IntegerField()
    failed_attempts_24h = serializers.IntegerField()


class SchedulePreviewRequestSerializer(StrictSerializer):
    schedule = serializers.CharField(min_length=1, max_length=SCHEDULE_MAX, trim_whitespace=False)
    timezone = _optional(serializers.CharField, allow_blank=True, max_length=TIMEZONE_MAX)
    count = serializers.IntegerField(min_value=1, max_value=50, default=NEXT_RUNS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            tz = clean_timezone(attrs.get("timezone"))
            schedule = parse_schedule(clean_schedule(attrs["schedule"], tz), tz or None)
            runs = schedule.next_runs(timezone.now(), attrs["count"])
        except (InvalidJob, InvalidSchedule, OverflowError) as exc:
            raise service_errors(exc) from None
        return {"schedule": schedule, "next_runs": runs}


class SchedulePreviewSerializer(serializers.Serializer):
    schedule = serializers.CharField(help_text="The expression, normalised.")
    timezone = serializers.CharField(help_text="The zone cron fields are read in.")
    is_interval = serializers.BooleanField()
    description = serializers.CharField()
    next_runs = serializers.ListField(child=serializers.DateTimeField())

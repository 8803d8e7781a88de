"""Creating and editing jobs: the one door every entry point goes through.

The Python API, the REST API, the admin and the declared schedules build,
insert and change jobs through these functions, so a rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from . import dependencies, limits, signals
from .conf import jobs_settings
from .engines import for_alias, notify
from .engines import rows as columns
from .engines.rows import NULL, copy_escape, copy_fields
from .exceptions import DuplicateJob, InvalidJob
from .models import Job, JobStatus
from .steering import check_changes, job_pk, lock_job
from .tasks.discovery import declared_schedules as task_schedules
from .unique import insert_or_find, insert_unique
from .validation import (
    clean_data,
    clean_handler,
    clean_max_attempts,
    clean_name,
    clean_on_conflict,
    clean_priority,
    clean_queue,
    clean_run_at,
    clean_schedule,
    clean_seconds,
    clean_timezone,
    clean_unique_key,
    data_json,
)
from .webhooks.config import clean_job_webhooks

JOB_OPTIONS = ("queue", "priority", "timeout", "misfire_grace", "allow_overlap", "webhooks")
# Given when a job is created (default: the handler's limit), fixed once it exists.
LIMIT_OPTIONS = ("limit", "limit_key")


def build_job(
    handler_name: str,
    data: Any = None,
    *,
    schedule: str = "",
    timezone_name: str = "",
    now: datetime | None = None,
    **options: Any,
) -> Job:
    """Validate everything and return an unsaved job; nothing is written.

    ``options``: ``name``, ``run_at``, ``max_attempts`` and the ``JOB_OPTIONS``.
    """
    now = now or timezone.now()
    values = _one_time_values(handler_name, now=now, **options)  # the handler checked first
    tz = clean_timezone(timezone_name)
    expression = clean_schedule(schedule, tz)
    if expression and options.get("run_at") is not None:
        raise InvalidJob(
            "run_at", "run_at is for one-time jobs; a recurring job follows its schedule"
        )
    job = new_job(data=clean_data(data), schedule=expression, timezone=tz, **values)
    job.key = identity(job)
    if expression:
        job.next_run_at = job.scheduled_for = job.next_slot(now)
    return job


def _one_time_values(
    handler_name: str,
    *,
    now: datetime,
    name: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    queue: str | None = None,
    priority: int | None = None,
    timeout: float | None = None,
    misfire_grace: float | None = None,
    allow_overlap: bool = False,
    limit: str | None = None,
    limit_key: str | None = None,
    webhooks: Any = None,
) -> dict[str, Any]:
    """Every validated column of a job but its data and schedule."""
    handler_name = clean_handler(handler_name)
    limit, limit_key = limits.clean(handler_name, limit, limit_key)
    values = {
        "name": clean_name(name if name is not None else handler_name),
        "handler": handler_name,
        "max_attempts": clean_max_attempts(max_attempts),
        "queue": clean_queue(queue),
        "priority": clean_priority(priority),
        "timeout": clean_seconds("timeout", timeout),
        "misfire_grace": clean_seconds("misfire_grace", misfire_grace),
        "allow_overlap": bool(allow_overlap),
        "webhooks": clean_job_webhooks(webhooks),
        "limit": limit,
        "limit_key": limit_key,
        "status": JobStatus.PENDING,
        "created_at": now,
        "updated_at": now,
    }
    values["next_run_at"] = values["scheduled_for"] = clean_run_at(run_at) or now
    return values


def new_job(**values: Any) -> Job:
    """``Job(**values)``, fast: see ``columns.instance``."""
    return columns.instance(Job, **values)


def enqueue(
    handler_name: str,
    data: Any = None,
    *,
    unique_key: str | None = None,
    on_conflict: str = "return",
    depends_on: Iterable[Job | int] | None = None,
    on_dependency_failure: str | None = None,
    **options: Any,
) -> Job:
    """Create a one-time job; inside ``atomic()`` it exists once the transaction commits.

    The options are ``django_jobs.enqueue``'s, whose signature is their one
    list (it is the door users call); ``build_job`` validates them and raises
    TypeError for a name it does not take. With ``unique_key``, while a live job
    holds that key it is returned instead (``on_conflict="raise"``:
    ``DuplicateJob``). With ``depends_on`` it waits until those jobs have
    finished (see ``dependencies``).
    """
    job = build_job(handler_name, data, **options)
    if depends_on is not None or on_dependency_failure is not None:
        return save_dependent(job, depends_on, on_dependency_failure, unique_key, on_conflict)[0]
    using = router.db_for_write(Job)
    if unique_key is not None or on_conflict != "return":
        return save_new_unique(job, unique_key, on_conflict)[0]
    _announce([job], notified=for_alias(using).insert_job(job), using=using)
    return job


def enqueue_many(jobs: Iterable[Mapping[str, Any]], **defaults: Any) -> list[Job]:
    """Create many one-time jobs in a few statements: all of them, or none.

    Each mapping holds ``enqueue`` arguments (``handler``, ``data``, ``name``,
    ``run_at``, ``unique_key``, ...); ``defaults`` fill in what a mapping leaves
    out. A unique key held by a live job, or given twice, yields that one job.
    ``depends_on`` may name, besides jobs and ids, the ``ref`` of a mapping
    earlier in the same call: the whole graph is created in one transaction.
    An item may have both: when its key is taken it is the live job holding
    it, and the items that depend on it wait for that job (see ``_insert_graph``).
    """
    now = timezone.now()
    # Jobs that differ only in their data share one validated template.
    templates: dict[tuple, Job] = {}
    planned: list[tuple[Job, Any, str | None]] = []
    uniques: dict[int, tuple[str | None, str]] = {}  # planned index -> (unique_key, on_conflict)
    graph: dict[int, dict[str, Any]] = {}  # planned index -> its GRAPH options
    for index, spec in enumerate(jobs):
        merged = {**defaults, **spec}
        handler_name = merged.pop("handler", None)
        if "schedule" in merged:
            raise InvalidJob("schedule", "enqueue_many creates one-time jobs; use schedule()")
        _check_options(merged, allowed=MANY_OPTIONS)
        data = merged.pop("data", None)
        unique = None
        if not merged.keys().isdisjoint(UNIQUE):  # thousands of plain jobs skip both
            unique = {name: merged.pop(name) for name in UNIQUE if name in merged}
        if not merged.keys().isdisjoint(GRAPH):
            graph[index] = {name: merged.pop(name) for name in GRAPH if name in merged}
        try:
            key = _hashable((handler_name, *sorted(merged.items())))
            template = templates.get(key) if key is not None else None
            if template is None:
                template = new_job(data=None, **_one_time_values(handler_name, now=now, **merged))
                if key is not None:
                    templates[key] = template
            planned.append((template, data, None if data is None else data_json(data)))
            if unique:
                uniques[len(planned) - 1] = (
                    clean_unique_key(unique.get("unique_key")),
                    clean_on_conflict(unique.get("on_conflict")),
                )
        except InvalidJob as exc:
            raise InvalidJob(exc.field, f"job {index}: {exc.message}", index) from None
    if not planned:
        return []
    using = router.db_for_write(Job)
    if graph or uniques:
        return _insert_graph(planned, dependencies.plan(graph), uniques, using, now)
    with transaction.atomic(using=using):
        created = _insert_all(planned, using)
        _announce(created)
        return created


UNIQUE = ("unique_key", "on_conflict")
GRAPH = ("depends_on", "on_dependency_failure", "ref")
# What an item of enqueue_many may hold besides "handler".
MANY_OPTIONS = frozenset(
    ("data", "name", "run_at", "max_attempts", *JOB_OPTIONS, *UNIQUE, *GRAPH, *LIMIT_OPTIONS)
)


def _insert_graph(
    planned: list[tuple[Job, Any, str | None]],
    wirings: dict[int, dependencies.Wiring],
    uniques: dict[int, tuple[str | None, str]],
    using: str,
    now: datetime,
) -> list[Job]:
    """Insert jobs with unique keys or dependencies, and their links, in one transaction.

    Keyless jobs go in bulk first, keyed ones then one by one in key order:
    a refused key leaves a lock on the index up to it (InnoDB), so two calls
    sharing keys insert nothing below a key they found taken, and queue on
    each other rather than deadlock. A keyed item whose key a live job holds,
    or an earlier item of the call, *is* that job: nothing is created for it,
    its own ``depends_on`` is not applied (the job keeps its own), and items
    that depend on it wait for that job. A live job found this way is locked
    and flagged like any dependency, so if it finished meanwhile it counts at
    once (``dependencies.link``).
    """
    keys = {i: key for i, (key, _) in uniques.items() if key is not None}
    first: dict[str, int] = {}  # a key's first item: later items with the key are that one
    for i in sorted(keys):
        first.setdefault(keys[i], i)

    def same(i: int) -> int:
        return first[keys[i]] if i in keys else i

    referenced = {same(e) for wiring in wirings.values() for e in wiring.earlier}
    clone = columns.cloner(Job)
    jobs: dict[int, Job] = {}  # position -> its job, once inserted or found
    created: set[int] = set()

    def token(e: int) -> tuple[str, int]:
        """What an earlier item stands for, before every item is inserted."""
        e = same(e)
        return ("job", jobs[e].pk) if e in jobs else ("item", e)

    variants: dict[tuple, Job] = {}  # items that wait alike share one template

    def prepared(i: int) -> Job:
        template, wiring = planned[i][0], wirings.get(i)
        if wiring is None and i not in referenced:
            return template
        count, mode = 0, None
        if wiring is not None:
            waits = {("job", pk) for pk in wiring.ids} | {token(e) for e in wiring.earlier}
            count, mode = len(waits), wiring.on_failure
        key = (id(template), count, mode, i in referenced)
        if key not in variants:
            variants[key] = clone(template, has_dependents=i in referenced)
            if mode is not None:
                dependencies.wait_for(variants[key], count, mode)
        return variants[key]

    with transaction.atomic(using=using):
        statuses = dependencies.lock({pk for w in wirings.values() for pk in w.ids}, using)
        keyless = [i for i in range(len(planned)) if i not in keys]
        rows = [(prepared(i), *planned[i][1:]) for i in keyless]
        inserted = _insert_all(rows, using, ids_needed=True) if rows else []
        jobs.update(zip(keyless, inserted, strict=True))
        created.update(keyless)
        by_key: dict[str, Job] = {}
        for i in sorted(keys, key=lambda i: (keys[i], i)):
            key, on_conflict = keys[i], uniques[i][1]
            if key in by_key:
                if on_conflict == "raise":
                    raise DuplicateJob(key, by_key[key])
                jobs[i] = by_key[key]
                continue
            fresh = clone(prepared(i), data=planned[i][1], unique_key=key)
            jobs[i], new = insert_unique(fresh, using, on_conflict)
            by_key[key] = jobs[i]
            if new:
                created.add(i)
        edges = {
            jobs[i].pk: _waits(wiring, [jobs[same(e)].pk for e in wiring.earlier])
            for i, wiring in wirings.items()
            if i in created and (wiring.ids or wiring.earlier)
        }
        found = {pk for deps in edges.values() for pk in deps} - {jobs[i].pk for i in created}
        statuses.update(dependencies.lock(found - set(statuses), using))
        _recount(edges, {jobs[i].pk: jobs[i] for i in created}, using)
        settled = dependencies.link(edges, statuses, using, now)
        if settled.released or settled.cancelled:
            fresh_rows = Job.objects.using(using).in_bulk({job.pk for job in jobs.values()})
            jobs = {i: fresh_rows[job.pk] for i, job in jobs.items()}
        _announce([jobs[i] for i in sorted(created)])
    return [jobs[i] for i in range(len(planned))]


def _waits(wiring: dependencies.Wiring, earlier: list[int]) -> list[int]:
    """The ids a job waits for, each once (two items may be one job)."""
    return list(dict.fromkeys([*wiring.ids, *earlier]))


def _recount(edges: Mapping[int, list[int]], created: Mapping[int, Job], using: str) -> None:
    """Correct ``waiting_on`` where an item resolved to a job it already waited for."""
    for pk, deps in edges.items():
        if created[pk].waiting_on != len(deps):
            Job.objects.using(using).filter(pk=pk).update(waiting_on=len(deps))
            created[pk].waiting_on = len(deps)


def _hashable(key: tuple) -> tuple | None:
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _insert_all(
    planned: list[tuple[Job, Any, str | None]], using: str, ids_needed: bool = False
) -> list[Job]:
    """Insert (template, data, data's JSON) jobs in a few statements; the saved jobs.

    Where a bulk insert returns no ids (MySQL), the jobs come back without them,
    unless ``ids_needed``: then they are inserted one by one.
    """
    connection = connections[using]
    names = columns.insert_names(Job)
    at = names.index("data")
    values = columns.writer(Job, names, connection)
    rows = {}  # each template's row, its data column to fill in
    for template, _, _ in planned:
        if id(template) not in rows:
            rows[id(template)] = values(template)
    engine = for_alias(using)
    if engine.has_copy:
        ids = _copy_jobs(planned, rows, at, names, using)
    else:
        prepared = [[*rows[id(t)][:at], text, *rows[id(t)][at + 1 :]] for t, _, text in planned]
        ids = engine.insert_returning_ids(Job, names, prepared)
    clone = columns.cloner(Job)
    if ids is None:  # MySQL: no RETURNING
        jobs = [clone(t, data=data) for t, data, _ in planned]
        if not ids_needed:
            return Job.objects.using(using).bulk_create(jobs, batch_size=1000)
        for job in jobs:
            job.save(force_insert=True, using=using)
        return jobs
    jobs = [clone(t, id=pk, data=data) for (t, data, _), pk in zip(planned, ids, strict=True)]
    for job in jobs:
        job._state.adding = False
        job._state.db = using
    return jobs


def _copy_jobs(planned, rows, at, names, using) -> list[int]:
    """PostgreSQL: each template's COPY text is formatted once, each job adds its data."""
    around = {}
    for key, row in rows.items():
        fields = copy_fields(row)
        around[key] = (
            "".join(f"{f}\t" for f in fields[:at]),
            "".join(f"\t{f}" for f in fields[at + 1 :]),
        )
    lines = []
    for template, _, text in planned:
        before, after = around[id(template)]
        lines.append(f"{before}{NULL if text is None else copy_escape(text)}{after}")
    return for_alias(using).copy_lines(Job, names, lines)


def schedule(
    name: str,
    handler_name: str,
    expression: str,
    data: Any = None,
    *,
    max_attempts: int | None = None,
    timezone: str = "",
    **options: Any,
) -> Job:
    """Create or update, by ``name``, a recurring job.

    The recurring job of that name is updated whichever door created it (this
    function, ``SCHEDULES``, the REST API or the admin): see ``identity``.
    Changing the expression or the time zone moves ``next_run_at`` to the new
    schedule's next slot; other changes leave the coming slot where it is.
    """
    _check_options(options, allowed=LIMIT_OPTIONS)
    fresh = build_job(
        handler_name,
        data,
        name=name,
        schedule=expression,
        timezone_name=timezone,
        max_attempts=max_attempts,
        **options,
    )
    if not fresh.schedule:
        raise InvalidJob("schedule", "a recurring job needs a schedule expression")
    using = router.db_for_write(Job)
    with transaction.atomic(using=using):
        job = _lock_by_key(fresh.key, using)
        if job is None:
            try:
                with transaction.atomic(using=using):
                    fresh.save(force_insert=True, using=using)
                _announce([fresh])
                return fresh
            except IntegrityError:
                job = _lock_by_key(fresh.key, using)
                if job is None:
                    raise
        return _update_declared(job, fresh)


def declared_schedules(*, validate: bool = False) -> dict[str, dict[str, Any]]:
    """The ``SCHEDULES`` setting; with ``validate`` each entry is checked like schedule()."""
    declared = jobs_settings.SCHEDULES
    if not isinstance(declared, dict):
        raise TypeError("SCHEDULES must map job names to dicts")
    declared = {**task_schedules(), **declared}  # @task(schedule=...); the setting wins
    for name, spec in declared.items():
        if not isinstance(spec, dict) or "handler" not in spec or "schedule" not in spec:
            raise TypeError(f"{name!r} must be a dict with 'handler' and 'schedule'")
        if validate:
            options = {k: v for k, v in spec.items() if k not in ("handler", "schedule")}
            tz = options.pop("timezone", "")
            try:
                build_job(
                    spec["handler"],
                    name=name,
                    schedule=spec["schedule"],
                    timezone_name=tz,
                    **options,
                )
            except InvalidJob as exc:
                raise InvalidJob(exc.field, f"{name!r}: {exc.message}") from None
            except ValueError as exc:
                raise ValueError(f"{name!r}: {exc}") from None
    return declared


def sync_declared() -> list[Job]:
    """Create or update every job of the ``SCHEDULES`` setting."""
    jobs = []
    for name, spec in declared_schedules().items():
        options = dict(spec)
        jobs.append(schedule(name, options.pop("handler"), options.pop("schedule"), **options))
    return jobs


# A recurring job's identity ---------------------------------------------------------
# Every recurring job holds its name in ``key``; one-time jobs hold none, so any
# number of them may share a name. The unique constraint on ``key`` is what refuses
# a second recurring job of a name, whichever door it comes through and however
# requests interleave: there is no "look, then insert".


def identity(job: Job) -> str | None:
    """The ``key`` a job must hold: its name if it is recurring, else none."""
    return job.name if job.schedule else None


def recurring_name_taken(name: str, *, exclude: int | None = None) -> bool:
    """Whether a recurring job other than ``exclude`` holds ``name``.

    For friendly form errors and for explaining a refusal; the constraint decides.
    """
    holders = Job.objects.filter(key=name)
    if exclude is not None:
        holders = holders.exclude(pk=exclude)
    return holders.exists()


def name_clash(name: str) -> InvalidJob:
    return InvalidJob("name", f"a recurring job named {name!r} already exists; update it instead")


@contextmanager
def claiming_identity(job: Job, using: str) -> Iterator[None]:
    """Write ``job`` in a savepoint; a clash on its key becomes ``InvalidJob("name")``."""
    try:
        with transaction.atomic(using=using):
            yield
    except IntegrityError:
        if job.key is not None and recurring_name_taken(job.key, exclude=job.pk):
            raise name_clash(job.key) from None
        raise


def _lock_by_key(key: str, using: str) -> Job | None:
    return Job.objects.using(using).select_for_update().filter(key=key).first()


def _update_declared(job: Job, fresh: Job) -> Job:
    moved = (job.schedule, job.timezone) != (fresh.schedule, fresh.timezone)
    fields = ["handler", "data", "schedule", "timezone", "max_attempts", *JOB_OPTIONS]
    if job.status != JobStatus.RUNNING:  # a run counts where it started
        fields += LIMIT_OPTIONS
    for field in fields:
        setattr(job, field, getattr(fresh, field))
    if moved and job.status == JobStatus.PENDING:
        job.next_run_at = job.scheduled_for = job.next_slot(timezone.now())
    job.save()
    return job


def _check_options(options: Mapping[str, Any], allowed: Collection[str] = ()) -> None:
    # No sets built: enqueue_many asks once an item, and most items hold nothing.
    unknown = [name for name in options if name not in JOB_OPTIONS and name not in allowed]
    if unknown:
        raise TypeError(f"unexpected job option(s): {', '.join(sorted(unknown))}")


def _announce(jobs: list[Job], notified: bool = False, using: str | None = None) -> None:
    """``notified``: inserting them sent the NOTIFY; the other wake-ups are still due."""
    now = timezone.now()
    due_queues = {job.queue for job in jobs if job.next_run_at and job.next_run_at <= now}
    if due_queues:
        notify.job_available(due_queues, notified=notified, alias=using)
    for job in jobs:
        signals.job_enqueued.send(sender=Job, job=job)


# Creating and editing a job from a form or a request ------------------------------

EDITABLE_FIELDS = ("name", "handler", "data", "schedule", "timezone", "max_attempts", "run_at")


def save_new(job: Job) -> Job:
    """Insert a job made by ``build_job()``; workers and receivers hear of it as with enqueue.

    A recurring job whose name another recurring job holds is refused with
    ``InvalidJob("name")`` (use ``schedule()`` to create or update by name).
    """
    using = router.db_for_write(Job)
    job.key = identity(job)
    with claiming_identity(job, using):
        job.save(force_insert=True, using=using)
    _announce([job])
    return job


def save_new_unique(
    job: Job, unique_key: str | None, on_conflict: str = "return"
) -> tuple[Job, bool]:
    """``save_new`` for a one-time job with a unique key: ``(job, created)``.

    The live job holding the key comes back instead of a new one (created False).
    """
    job.unique_key = clean_unique_key(unique_key)
    on_conflict = clean_on_conflict(on_conflict)
    if job.unique_key is None:
        return save_new(job), True
    if job.schedule:
        raise InvalidJob("unique_key", "unique_key is for one-time jobs")
    saved, created, woke = insert_or_find(job, router.db_for_write(Job), on_conflict)
    if created:
        _announce([saved], notified=woke)
    return saved, created


def save_dependent(
    job: Job,
    depends_on: Iterable[Job | int] | None,
    on_dependency_failure: str | None = None,
    unique_key: str | None = None,
    on_conflict: str = "return",
) -> tuple[Job, bool]:
    """``save_new`` for a one-time job that waits for ``depends_on``: ``(job, created)``.

    A missing or recurring dependency is refused (``InvalidJob("depends_on")``)
    and nothing is written; dependencies that already finished count at once.
    """
    ids = dependencies.clean_ids(depends_on)
    mode = dependencies.clean_on_dependency_failure(on_dependency_failure)
    if job.schedule:
        raise InvalidJob("depends_on", "depends_on is for one-time jobs")
    using = router.db_for_write(Job)
    with transaction.atomic(using=using):
        statuses = dependencies.lock(ids, using)
        dependencies.wait_for(job, len(ids), mode)
        if unique_key is not None or on_conflict != "return":
            job, created = save_new_unique(job, unique_key, on_conflict)
        else:
            job, created = save_new(job), True
        if created and ids:
            settled = dependencies.link({job.pk: ids}, statuses, using, timezone.now())
            if settled.released or settled.cancelled:
                job.refresh_from_db(using=using)
    return job, created


def update(job: Job | int, *, now: datetime | None = None, **changes: Any) -> Job:
    """Change a job's fields with the rules that creating it follows.

    Only the fields given are checked and written. On a pending job, a new
    ``schedule`` or ``timezone`` moves ``next_run_at`` to the next slot and a
    new ``run_at`` moves a one-time job. ``steering.check_changes`` says what
    the job's state allows (``JobStateError`` otherwise); a recurring job
    cannot take a name another recurring job holds (``InvalidJob("name")``).
    """
    for field in LIMIT_OPTIONS:
        if field in changes:
            raise InvalidJob(field, f"{field} is set when a job is created and cannot change")
    _check_options(changes, allowed=EDITABLE_FIELDS)
    now = now or timezone.now()
    pk = job_pk(job)
    using = router.db_for_write(Job)
    with transaction.atomic(using=using):
        current = lock_job(pk, using)
        check_changes(current, [f for f, value in changes.items() if _asked(f, value)])
        fields = _apply_changes(current, changes, now)
        if current.key != identity(current):
            current.key = identity(current)
            fields.add("key")
        with claiming_identity(current, using):
            current.save(using=using, update_fields=[*fields, "updated_at"])
    if current.status == JobStatus.PENDING and current.next_run_at and current.next_run_at <= now:
        notify.job_available({current.queue})
    return current


def _asked(field: str, value: Any) -> bool:
    """Whether a change asks for something: an empty ``run_at`` leaves the job where it is."""
    return not (field == "run_at" and value is None)


def _apply_changes(job: Job, changes: Mapping[str, Any], now: datetime) -> set[str]:
    """Validate ``changes`` and set them on ``job``; returns the fields to save."""
    cleaners = {
        "name": clean_name,
        "handler": clean_handler,
        "data": clean_data,
        "max_attempts": clean_max_attempts,
        "queue": clean_queue,
        "priority": clean_priority,
        "timeout": lambda value: clean_seconds("timeout", value),
        "misfire_grace": lambda value: clean_seconds("misfire_grace", value),
        "allow_overlap": bool,
        "webhooks": clean_job_webhooks,
    }
    cleaned = {
        field: cleaners[field](value) for field, value in changes.items() if field in cleaners
    }
    tz = clean_timezone(changes["timezone"]) if "timezone" in changes else job.timezone
    expression = job.schedule
    if "schedule" in changes or "timezone" in changes:
        expression = clean_schedule(changes.get("schedule", job.schedule), tz)
    run_at = clean_run_at(changes.get("run_at"))
    if run_at is not None and expression:
        raise InvalidJob(
            "run_at", "run_at is for one-time jobs; a recurring job follows its schedule"
        )
    moved = (expression, tz) != (job.schedule, job.timezone)
    if expression and (job.has_dependencies or job.has_dependents):
        raise InvalidJob(
            "schedule", "a job that waits for jobs, or that jobs wait for, stays one-time"
        )
    for field, value in {**cleaned, "schedule": expression, "timezone": tz}.items():
        setattr(job, field, value)
    fields = {*cleaned, "schedule", "timezone"}
    if job.status == JobStatus.PENDING and (run_at is not None or (moved and expression)):
        job.next_run_at = job.scheduled_for = run_at or job.next_slot(now)
        fields |= {"next_run_at", "scheduled_for"}
        if job.waiting_on:  # still waiting: run_at is when it may run once released
            job.next_run_at = None
    return fields

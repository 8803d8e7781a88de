"""Jobs that wait for other jobs: linking them at creation, settling them when one finishes.

The rules, all here:

- A dependent is created *waiting*: pending, ``next_run_at`` NULL and
  ``waiting_on`` its number of dependencies. The claim reads only rows whose
  ``next_run_at`` has come, so it never sees a waiting job, and a check
  constraint keeps a waiting job from being due or running.
- Adding a dependent locks each dependency's row and sets its
  ``has_dependents`` flag. The transaction that finishes a job reads that
  flag from the locked row, so a dependent added while its dependency runs is
  never missed, and a job outside any graph pays nothing: no statement of
  its claim or completion changes.
- ``settle`` runs in the transaction that moves a flagged job to a finished
  state. Each link is counted once (``settled``); the decrement is one
  ``UPDATE`` of the dependent's row, so however many workers finish
  dependencies at the same moment, exactly one of them takes the count to
  zero and releases the dependent (sets ``next_run_at``).
- A dependency that failed for good, was cancelled or deleted cancels its
  dependents (default), cascading to theirs; a dependent with
  ``on_dependency_failure="run"`` counts it as finished and runs anyway.
- A job can only depend on jobs that exist before it (or come earlier in the
  same ``enqueue_many`` call) and links are never edited: no cycle can form.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from . import signals
from .engines import notify
from .exceptions import InvalidJob
from .models import (
    FINISHED,
    DependencyFailure,
    Job,
    JobDependency,
    JobHistory,
    JobStatus,
    RunStatus,
)

FIELD = "depends_on"
# How many ids go into one IN (...) list.
CHUNK = 2000
# What a dependent's reason says about the dependency, by the state it ended in.
ENDINGS = {
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "was cancelled",
    "deleted": "was deleted",
}


def clean_on_dependency_failure(value: Any) -> str:
    if value is None:
        return DependencyFailure.CANCEL
    if value not in DependencyFailure.values:
        choices = ", ".join(DependencyFailure.values)
        raise InvalidJob("on_dependency_failure", f"on_dependency_failure must be one of {choices}")
    return str(value)


def clean_ids(depends_on: Any) -> list[int]:
    """Job ids from a list of jobs and ids, in order, without repeats."""
    if depends_on is None:
        return []
    if isinstance(depends_on, (str, bytes, Mapping)) or not isinstance(depends_on, Iterable):
        raise InvalidJob(FIELD, "depends_on must be a list of jobs or job ids")
    ids: dict[int, None] = {}
    for item in depends_on:
        ids[_job_id(item)] = None
    return list(ids)


def _job_id(item: Any) -> int:
    if isinstance(item, Job):
        if item.pk is None:
            raise InvalidJob(FIELD, "depends_on holds a job that was never saved")
        return int(item.pk)
    if isinstance(item, int) and not isinstance(item, bool) and item > 0:
        return item
    raise InvalidJob(FIELD, f"{item!r} is not a job or a job id")


@dataclass
class Wiring:
    """The dependencies of one job of an ``enqueue_many`` call."""

    ids: list[int]  # jobs that exist already
    earlier: list[int]  # positions of jobs earlier in the call
    on_failure: str


def plan(graph: Mapping[int, Mapping[str, Any]]) -> dict[int, Wiring]:
    """Resolve ``depends_on`` of ``enqueue_many`` items (position -> options) into ``Wiring``.

    A string names the ``ref`` of an earlier item; anything else is a job or
    an id. Naming an item that is not earlier is refused: that is what keeps
    a graph free of cycles.
    """
    refs: dict[str, int] = {}
    wirings: dict[int, Wiring] = {}
    for index in sorted(graph):
        options = graph[index]
        entries = options.get(FIELD) or []
        if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Iterable):
            raise InvalidJob(FIELD, f"job {index}: depends_on must be a list", index)
        ids: dict[int, None] = {}
        earlier: dict[int, None] = {}
        for entry in entries:
            if isinstance(entry, str):
                if entry not in refs:
                    raise InvalidJob(
                        FIELD,
                        f"job {index}: {entry!r} is not the ref of an earlier job of this call "
                        "(a job can only depend on jobs created before it, so no cycle forms)",
                        index,
                    )
                earlier[refs[entry]] = None
            else:
                try:
                    ids[_job_id(entry)] = None
                except InvalidJob as exc:
                    raise InvalidJob(FIELD, f"job {index}: {exc.message}", index) from None
        ref = options.get("ref")
        if ref is not None:
            if not isinstance(ref, str) or not ref:
                raise InvalidJob("ref", f"job {index}: ref must be a non-empty string", index)
            if ref in refs:
                taken = f"job {index}: ref {ref!r} is already used by job {refs[ref]}"
                raise InvalidJob("ref", taken, index)
            refs[ref] = index
        try:
            mode = clean_on_dependency_failure(options.get("on_dependency_failure"))
        except InvalidJob as exc:
            raise InvalidJob(exc.field, f"job {index}: {exc.message}", index) from None
        wirings[index] = Wiring(list(ids), list(earlier), mode)
    return wirings


def wait_for(job: Job, count: int, on_failure: str) -> None:
    """Make an unsaved job wait for ``count`` dependencies: not due until they finish."""
    job.on_dependency_failure = on_failure
    if count:
        job.has_dependencies = True
        job.waiting_on = count
        job.next_run_at = None


def lock(ids: Collection[int], using: str) -> dict[int, str]:
    """Lock existing dependencies and flag them; refuse missing and recurring ones.

    Returns each one's status as it stands under the lock. Call inside the
    transaction that inserts the dependents.
    """
    found: dict[int, tuple[str, str]] = {}
    due: set[str] = set()
    now = timezone.now()
    for part in _chunks(sorted(ids)):
        rows = (
            Job.objects.using(using)
            .filter(pk__in=part)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", "status", "schedule", "queue", "next_run_at")
        )
        for pk, status, schedule, queue, run_at in rows:
            found[pk] = (status, schedule)
            if status == JobStatus.PENDING and run_at is not None and run_at <= now:
                due.add(queue)
    _refuse(ids, {pk: schedule for pk, (_, schedule) in found.items()})
    for part in _chunks(sorted(ids)):
        Job.objects.using(using).filter(pk__in=part, has_dependents=False).update(
            has_dependents=True
        )
    if due:
        # A claim skips locked rows (SKIP LOCKED): one made meanwhile passed these
        # due jobs by. Announced on commit, they wait for no poll.
        notify.job_available(due)
    return {pk: status for pk, (status, _) in found.items()}


def check(ids: Collection[int], using: str) -> None:
    """Refuse missing and recurring dependencies without locking them.

    For a form to say so early; ``lock``, when the job is inserted, decides.
    """
    found: dict[int, str] = {}
    for part in _chunks(sorted(ids)):
        found.update(Job.objects.using(using).filter(pk__in=part).values_list("pk", "schedule"))
    _refuse(ids, found)


def _refuse(ids: Collection[int], found: Mapping[int, str]) -> None:
    """``InvalidJob`` unless every one of ``ids`` was found (id -> schedule) and is one-time."""
    missing = sorted(set(ids) - set(found))
    if missing:
        raise InvalidJob(FIELD, f"no such job: {_list(missing)}")
    recurring = sorted(pk for pk, schedule in found.items() if schedule)
    if recurring:
        raise InvalidJob(
            FIELD,
            f"job {_list(recurring)} is recurring: a job can only depend on one-time jobs",
        )


def link(
    edges: Mapping[int, Sequence[int]], statuses: Mapping[int, str], using: str, now: datetime
) -> Settled:
    """Write the links of saved dependents (id -> dependency ids) and settle what already ended.

    ``statuses``: the pre-existing dependencies ``lock`` returned; one that has
    finished counts at once (a completed one may release the dependent now).
    """
    JobDependency.objects.using(using).bulk_create(
        [
            JobDependency(job_id=job_id, depends_on_id=dep)
            for job_id, deps in edges.items()
            for dep in deps
        ],
        batch_size=1000,
    )
    ended = {pk: status for pk, status in statuses.items() if status in FINISHED}
    return settle(ended, using, now) if ended else Settled()


# Settling ---------------------------------------------------------------------------


@dataclass
class Settled:
    """What one ``settle`` did: dependents released and cancelled."""

    released: int = 0
    cancelled: list[int] = field(default_factory=list)


def settle_jobs(jobs: Iterable[Job], using: str, now: datetime) -> Settled:
    """``settle`` the finished ones among ``jobs`` whose row (read under lock) has dependents."""
    ended = {job.pk: job.status for job in jobs if job.has_dependents and job.status in FINISHED}
    return settle(ended, using, now) if ended else Settled()


def settle_rows(ids: Sequence[int], using: str, now: datetime) -> Settled:
    """``settle`` those of ``ids`` whose row, read now under lock, ended and has dependents.

    For callers whose jobs in memory may be stale (a stopping worker's put-back).
    """
    ended: dict[int, str] = {}
    for part in _chunks(sorted(ids)):
        rows = (
            Job.objects.using(using)
            .filter(pk__in=part)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", "status", "has_dependents")
        )
        ended.update({pk: status for pk, status, flag in rows if flag and status in FINISHED})
    return settle(ended, using, now) if ended else Settled()


def settle(ended: Mapping[int, str], using: str, now: datetime) -> Settled:
    """Count jobs that just ended (id -> completed, failed, cancelled or "deleted").

    Runs in the transaction that ended them, with their rows locked. The
    dependents that may change are locked in id order in one pass, so two
    settles that share dependents queue on them instead of deadlocking.
    """
    done = Settled()
    broken = {pk: status for pk, status in ended.items() if status != JobStatus.COMPLETED}
    doomed = _doomed(list(broken), using) if broken else {}
    links = _lock_links([*ended, *doomed], using)
    waiting = _lock_waiting(sorted({job_id for job_id, _ in links}), using)
    # A dependent that stopped waiting meanwhile (triggered) is not cancelled.
    doomed = {pk: cause for pk, cause in doomed.items() if pk in waiting}
    settled = [*ended, *doomed]
    links = [(job_id, dep) for job_id, dep in links if dep in ended or dep in doomed]
    if doomed:
        _cancel(doomed, broken, using, now)
        done.cancelled = sorted(doomed)
    for part in _chunks(settled):
        JobDependency.objects.using(using).filter(depends_on_id__in=part, settled=False).update(
            settled=True
        )
    counts = Counter(job_id for job_id, _ in links if job_id in waiting and job_id not in doomed)
    by_count: dict[int, list[int]] = defaultdict(list)
    for job_id, n in counts.items():
        by_count[n].append(job_id)
    queues: set[str] = set()
    for n, ids in sorted(by_count.items()):
        for part in _chunks(sorted(ids)):
            _count_down(part, n, using, now)
        released = [pk for pk in ids if waiting[pk][0] <= n]
        done.released += len(released)
        queues.update(waiting[pk][1] for pk in released)
    if queues:
        notify.job_available(queues)
    if done.cancelled and signals.job_cancelled.has_listeners(Job):
        transaction.on_commit(lambda: _announce_cancelled(done.cancelled, using), using=using)
    return done


def _lock_links(dependencies: Sequence[int], using: str) -> list[tuple[int, int]]:
    """The uncounted links from ``dependencies``: (dependent, dependency), locked.

    A locking read sees every committed link, even under MySQL's repeatable
    read, where a plain one could miss a dependent added a moment ago.
    """
    links: list[tuple[int, int]] = []
    for part in _chunks(dependencies):
        rows = (
            JobDependency.objects.using(using)
            .filter(depends_on_id__in=part, settled=False)
            .select_for_update()
            .values_list("job_id", "depends_on_id")
        )
        links.extend(rows)
    return links


def _lock_waiting(ids: Sequence[int], using: str) -> dict[int, tuple[int, str]]:
    """Lock the ones of ``ids`` still waiting, in id order: id -> (waiting_on, queue).

    Rows are found by primary key alone: a locking read through another index
    would lock every row it steps over (InnoDB), other workers' included.
    """
    found: dict[int, tuple[int, str]] = {}
    for part in _chunks(ids):
        rows = (
            Job.objects.using(using)
            .filter(pk__in=part)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", "status", "waiting_on", "queue")
        )
        found.update(
            {pk: (left, queue) for pk, status, left, queue in rows if status == "pending" and left}
        )
    return found


def _count_down(ids: list[int], n: int, using: str, now: datetime) -> None:
    """Subtract ``n`` finished dependencies from each of ``ids`` (locked, waiting); release
    those left with none.

    ``next_run_at`` is assigned first because MySQL evaluates assignments
    left to right, on the values already changed.
    """
    due = Case(When(scheduled_for__gt=now, then=F("scheduled_for")), default=Value(now))
    Job.objects.using(using).filter(pk__in=ids).update(
        next_run_at=Case(When(waiting_on__lte=n, then=due), default=None),
        waiting_on=Case(When(waiting_on__gt=n, then=F("waiting_on") - n), default=Value(0)),
        updated_at=now,
    )


def _cancel(
    doomed: Mapping[int, int], broken: Mapping[int, str], using: str, now: datetime
) -> None:
    """Cancel ``doomed`` (id -> the dependency that dooms it), each with a reason naming it."""
    names = dict(
        Job.objects.using(using).filter(pk__in=set(doomed.values())).values_list("pk", "name")
    )
    by_cause: dict[int, list[int]] = defaultdict(list)
    for pk, cause in doomed.items():
        by_cause[cause].append(pk)
    for cause, ids in by_cause.items():
        ending = ENDINGS[broken.get(cause, JobStatus.CANCELLED)]
        reason = f"not run: its dependency, job {cause} ({names.get(cause, '?')}), {ending}"
        for part in _chunks(ids):
            Job.objects.using(using).filter(pk__in=part).update(
                status=JobStatus.CANCELLED, next_run_at=None, last_error=reason, updated_at=now
            )


def _doomed(roots: list[int], using: str) -> dict[int, int]:
    """Waiting dependents reached from ``roots`` through those that cancel: id -> a cause.

    One recursive query, however deep the graph; a dependent that runs anyway
    stops the walk (it is counted down instead).
    """
    connection = connections[using]
    qn = connection.ops.quote_name
    links, jobs = qn(JobDependency._meta.db_table), qn(Job._meta.db_table)
    waiting = (
        f"d.{qn('settled')} = %s AND j.{qn('status')} = %s AND j.{qn('waiting_on')} > 0 "
        f"AND j.{qn('on_dependency_failure')} = %s"
    )
    found: dict[int, int] = {}
    condition: list[Any] = [False, JobStatus.PENDING, DependencyFailure.CANCEL]
    for part in _chunks(roots):
        sql = (
            f"WITH RECURSIVE doomed (id, cause) AS ("
            f"SELECT d.{qn('job_id')}, d.{qn('depends_on_id')} FROM {links} d "
            f"JOIN {jobs} j ON j.{qn('id')} = d.{qn('job_id')} "
            f"WHERE d.{qn('depends_on_id')} IN ({', '.join(['%s'] * len(part))}) AND {waiting} "
            f"UNION SELECT d.{qn('job_id')}, d.{qn('depends_on_id')} FROM doomed "
            f"JOIN {links} d ON d.{qn('depends_on_id')} = doomed.id "
            f"JOIN {jobs} j ON j.{qn('id')} = d.{qn('job_id')} WHERE {waiting}) "
            f"SELECT id, MIN(cause) FROM doomed GROUP BY id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*part, *condition, *condition])
            for pk, cause in cursor.fetchall():
                found.setdefault(pk, cause)
    return found


def _announce_cancelled(ids: list[int], using: str) -> None:
    for part in _chunks(ids):
        for job in Job.objects.using(using).filter(pk__in=part):
            signals.job_cancelled.send_robust(sender=Job, job=job)


# Reading ----------------------------------------------------------------------------


def results(job: Job, using: str | None = None) -> dict[int, Any]:
    """Completed dependencies of ``job``: id -> result of its last successful run.

    A dependency whose run left no history (``ENABLE_HISTORY`` off, pruned)
    maps to None; one that failed or was cancelled is not in it.
    """
    if not job.has_dependencies:
        return {}
    using = using or router.db_for_read(Job)
    completed = JobDependency.objects.using(using).filter(
        job_id=job.pk, depends_on__status=JobStatus.COMPLETED
    )
    found: dict[int, Any] = dict.fromkeys(completed.values_list("depends_on_id", flat=True))
    runs = (
        JobHistory.objects.using(using)
        .filter(job_id__in=completed.values("depends_on_id"), status=RunStatus.COMPLETED)
        .order_by("job_id", "started_at", "id")
        .values_list("job_id", "result")
    )
    for job_id, result in runs:
        found[job_id] = result  # the last one wins
    return found


def dependency_ids(job: Job) -> list[int]:
    """What ``job`` waits (or waited) for."""
    if not job.has_dependencies:
        return []
    links = JobDependency.objects.filter(job_id=job.pk).order_by("depends_on_id")
    return list(links.values_list("depends_on_id", flat=True))


def dependent_ids(job: Job) -> list[int]:
    """What waits (or waited) for ``job``."""
    if not job.has_dependents:
        return []
    links = JobDependency.objects.filter(depends_on_id=job.pk).order_by("job_id")
    return list(links.values_list("job_id", flat=True))


def links_of(jobs: Sequence[Job]) -> dict[str, dict[int, list[int]]]:
    """Both sides of the links of ``jobs`` (a page of them): side -> id -> ids.

    At most two queries, none when no job of the page is in a graph.
    """
    found: dict[str, dict[int, list[int]]] = {"depends_on": {}, "dependents": {}}
    waiting = [job.pk for job in jobs if job.has_dependencies]
    waited_for = [job.pk for job in jobs if job.has_dependents]
    if waiting:
        rows = JobDependency.objects.filter(job_id__in=waiting).order_by("depends_on_id")
        for job_id, dep in rows.values_list("job_id", "depends_on_id"):
            found["depends_on"].setdefault(job_id, []).append(dep)
    if waited_for:
        rows = JobDependency.objects.filter(depends_on_id__in=waited_for).order_by("job_id")
        for job_id, dep in rows.values_list("job_id", "depends_on_id"):
            found["dependents"].setdefault(dep, []).append(job_id)
    return found


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _list(ids: Sequence[int]) -> str:
    shown = ", ".join(str(pk) for pk in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

"""enqueue(), enqueue_many() and schedule(): validation, transactions, updates by name."""

import inspect
import typing
from datetime import datetime, timedelta

import pytest
from asgiref.sync import iscoroutinefunction
from django.db import transaction
from django.utils import timezone

from django_jobs import aenqueue, aschedule, enqueue, enqueue_many, schedule
from django_jobs.exceptions import InvalidJob, UnknownHandler
from django_jobs.models import Job, JobStatus
from django_jobs.schedules import InvalidSchedule

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_creates_a_pending_one_time_job_due_now():
    before = timezone.now()
    job = enqueue("echo", {"x": 1}, name="hello", max_attempts=5)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.name == "hello"
    assert job.data == {"x": 1}
    assert job.max_attempts == 5
    assert job.schedule == ""
    assert before <= job.next_run_at <= timezone.now()


def test_enqueue_defaults():
    job = enqueue("echo")
    assert job.name == "echo"
    assert job.max_attempts == 3
    assert job.queue == "default"
    assert job.priority == 0


def test_run_at_sets_the_due_instant():
    when = timezone.now() + timedelta(days=1)
    assert enqueue("echo", run_at=when).next_run_at == when


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"handler_name": "nope"}, "handler"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": "3"}, "max_attempts"),
        ({"max_attempts": 1000}, "max_attempts"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"run_at": datetime(2030, 1, 1)}, "run_at"),
        ({"data": {"x": object()}}, "data"),
        ({"priority": 10**6}, "priority"),
        ({"queue": "a,b"}, "queue"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_input_raises_before_anything_is_written(kwargs, field):
    handler_name = kwargs.pop("handler_name", "echo")
    with pytest.raises(InvalidJob) as info:
        enqueue(handler_name, **kwargs)
    assert info.value.field == field
    assert not Job.objects.exists()


def test_unknown_handler_is_a_value_error_naming_it():
    with pytest.raises(UnknownHandler, match="'nope'"):
        enqueue("nope")
    with pytest.raises(ValueError):
        enqueue("nope")


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError):
        enqueue("echo", colour="red")


def test_job_exists_only_when_the_transaction_commits():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue("echo")
            assert Job.objects.count() == 1
            raise RuntimeError("rollback")
    assert not Job.objects.exists()
    with transaction.atomic():
        enqueue("echo")
    assert Job.objects.count() == 1


def test_schedule_creates_a_recurring_job_at_its_next_slot():
    job = schedule("report", "echo", "0 9 * * 1", {"kind": "weekly"})
    assert job.is_recurring
    assert job.key == "report"
    assert job.status == JobStatus.PENDING
    local = timezone.localtime(job.next_run_at, timezone.get_default_timezone())
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert job.next_run_at > timezone.now()


def test_schedule_updates_by_name_instead_of_duplicating():
    first = schedule("sync", "echo", "*/15 * * * *", {"v": 1})
    second = schedule("sync", "echo", "*/15 * * * *", {"v": 2}, max_attempts=7)
    assert first.pk == second.pk
    assert Job.objects.count() == 1
    second.refresh_from_db()
    assert second.data == {"v": 2}
    assert second.max_attempts == 7
    assert second.next_run_at == first.next_run_at  # same expression: same coming slot


def test_schedule_change_moves_next_run_at():
    job = schedule("sync", "echo", "0 0 1 1 *")
    moved = schedule("sync", "echo", "* * * * *")
    assert moved.next_run_at < job.next_run_at
    assert moved.next_run_at - timezone.now() <= timedelta(minutes=1)


def test_schedule_in_a_time_zone():
    job = schedule("tokyo", "echo", "0 9 * * *", timezone="Asia/Tokyo")
    assert job.timezone == "Asia/Tokyo"
    assert job.next_run_at.astimezone(timezone.get_fixed_timezone(9 * 60)).hour == 9


@pytest.mark.parametrize("expression", ["61 * * * *", "every day", "5x", "* * * * * *", ""])
def test_bad_schedule_raises_invalid_schedule_and_writes_nothing(expression):
    with pytest.raises((InvalidSchedule, InvalidJob)):
        schedule("bad", "echo", expression)
    assert not Job.objects.exists()


def test_bad_time_zone_is_rejected():
    with pytest.raises(InvalidJob) as info:
        schedule("x", "echo", "* * * * *", timezone="Mars/Base")
    assert info.value.field == "timezone"


def test_enqueue_many_inserts_all_or_nothing():
    jobs = enqueue_many([{"data": {"n": n}} for n in range(250)], handler="echo")
    assert len(jobs) == 250
    assert all(job.pk for job in jobs)
    assert Job.objects.filter(status="pending").count() == 250
    with pytest.raises(InvalidJob, match="job 2"):
        enqueue_many([{"handler": "echo"}, {"handler": "echo"}, {"handler": "nope"}])
    assert Job.objects.count() == 250


def test_enqueue_many_rolls_back_with_the_callers_transaction():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue_many([{"handler": "echo"}] * 10)
            raise RuntimeError
    assert not Job.objects.exists()


AWKWARD = [
    None,
    {"text": 'tab\there, newline\nthere, back\\slash, quote " and \\N'},
    ["\\", "\\\\", "\r\n", "é ✓ 𝄞", ""],
    0,
    "plain",
    {"nested": {"list": [1, 2.5, True, None]}},
]


def _columns(job):
    return {f.attname: getattr(job, f.attname) for f in Job._meta.concrete_fields}


def test_enqueue_many_returns_the_jobs_as_stored_in_the_callers_order():
    later = timezone.now() + timedelta(hours=1)
    specs = [
        {"handler": "echo", "data": data, "name": f"odd\t\\name\n{i}"}
        for i, data in enumerate(AWKWARD)
    ]
    specs += [
        {"handler": "echo", "data": {"i": 1}, "run_at": later, "queue": "other", "priority": -3},
        {"handler": "echo", "timeout": 2.5, "misfire_grace": 1e-3, "allow_overlap": True},
        {"handler": "echo", "data": {"i": 2}, "max_attempts": 7},
    ]
    jobs = enqueue_many(specs)
    assert [job.pk for job in jobs] == sorted(job.pk for job in jobs)
    stored = {job.pk: job for job in Job.objects.all()}
    assert len(stored) == len(specs)
    for job, spec in zip(jobs, specs, strict=True):
        assert _columns(job) == _columns(stored[job.pk])
        assert stored[job.pk].data == spec.get("data")
        assert not job._state.adding
    assert stored[jobs[0].pk].name == "odd\t\\name\n0"
    assert stored[jobs[-3].pk].next_run_at == later
    assert (stored[jobs[-2].pk].timeout, stored[jobs[-2].pk].misfire_grace) == (2.5, 1e-3)
    assert stored[jobs[-1].pk].max_attempts == 7


def test_enqueue_many_builds_jobs_through_the_constructor_when_init_is_listened_to():
    from django.db.models.signals import post_init

    seen = []

    def listen(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listen, sender=Job)
    try:
        jobs = enqueue_many([{"data": {"n": n}} for n in range(3)], handler="echo")
    finally:
        post_init.disconnect(listen, sender=Job)
    assert all(any(job is s for s in seen) for job in jobs)
    assert [job.data for job in jobs] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [j.data for j in Job.objects.order_by("pk")] == [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.parametrize("fn", [enqueue, aenqueue])
def test_enqueue_keywords_are_typed_in_its_signature(fn):
    params = inspect.signature(fn).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    keywords = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keywords == {
        "name",
        "run_at",
        "max_attempts",
        "queue",
        "priority",
        "timeout",
        "misfire_grace",
        "allow_overlap",
        "unique_key",
        "on_conflict",
        "limit",
        "limit_key",
        "depends_on",
        "on_dependency_failure",
        "webhooks",
    }
    hints = typing.get_type_hints(inspect.unwrap(fn), localns={"Job": Job})
    assert hints["priority"] == int | None and hints["allow_overlap"] is bool
    assert hints["unique_key"] == str | None and hints["on_conflict"] is str


def test_enqueue_keywords_all_reach_the_job():
    when = timezone.now() + timedelta(hours=1)
    job = enqueue(
        "echo",
        name="typed",
        run_at=when,
        max_attempts=4,
        queue="mail",
        priority=7,
        timeout=2.5,
        allow_overlap=True,
    )
    job.refresh_from_db()
    assert (job.name, job.next_run_at, job.max_attempts) == ("typed", when, 4)
    assert (job.queue, job.priority, job.timeout, job.allow_overlap) == ("mail", 7, 2.5, True)


def test_enqueue_many_refuses_an_unknown_option_and_writes_nothing():
    with pytest.raises(TypeError, match=r"unexpected job option.*colour"):
        enqueue_many([{"handler": "echo"}, {"handler": "echo", "colour": "red"}])
    with pytest.raises(TypeError, match=r"unexpected job option.*colour"):
        enqueue_many([{}], handler="echo", colour="red")
    assert not Job.objects.exists()


def test_the_async_doors_are_the_sync_functions_run_async():
    # One list of options: a keyword added to enqueue or schedule reaches aenqueue and
    # aschedule without a copy to forget.
    assert iscoroutinefunction(aenqueue) and iscoroutinefunction(aschedule)
    assert inspect.signature(aenqueue) == inspect.signature(enqueue)
    assert inspect.signature(aschedule) == inspect.signature(schedule)
    assert "async code" in aenqueue.__doc__ and "async code" in aschedule.__doc__

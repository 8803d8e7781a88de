"""enqueue()'s INSERT: columns holding their default are literals, the rest parameters.

Whatever a job holds, the row written is the row ``save()`` would write.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_jobs import enqueue
from django_jobs.engines import rows
from django_jobs.engines.one_row import insert_one
from django_jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = {"DJANGO_JOBS": {"LIMITS": {"mailer": {"concurrency": 2}}}}


def _stored(job: Job) -> dict:
    names = [f.attname for f in Job._meta.concrete_fields if not f.primary_key]
    return dict(zip(names, Job.objects.filter(pk=job.pk).values_list(*names).get(), strict=True))


def _saved_copy(job: Job) -> Job:
    """The same job inserted by the ORM, for comparison."""
    copy = Job.objects.get(pk=job.pk)
    copy.pk = None
    copy._state.adding = True
    copy.save(force_insert=True)
    return copy


def test_a_job_with_every_default_is_stored_as_save_stores_it():
    job = enqueue("echo", {"x": 1})
    stored = _stored(job)
    assert stored["queue"] == "default" and stored["priority"] == 0
    assert stored["max_attempts"] == 3 and stored["status"] == JobStatus.PENDING
    assert stored["limit"] == "" and stored["webhooks"] == "" and stored["timeout"] is None
    copy = _stored(_saved_copy(job))
    assert {k: v for k, v in stored.items() if k != "updated_at"} == {
        k: v for k, v in copy.items() if k != "updated_at"
    }


@override_settings(**LIMITS)
def test_options_that_differ_from_their_defaults_are_stored():
    run_at = timezone.now() + timedelta(hours=1)
    job = enqueue(
        "echo",
        None,
        name="custom",
        queue="mail",
        priority=-3,
        max_attempts=7,
        timeout=2.5,
        misfire_grace=10.0,
        allow_overlap=True,
        run_at=run_at,
        limit="mailer",
        limit_key="customer-42",
    )
    stored = _stored(job)
    assert stored["name"] == "custom" and stored["queue"] == "mail"
    assert (stored["priority"], stored["max_attempts"]) == (-3, 7)
    assert (stored["timeout"], stored["misfire_grace"]) == (2.5, 10.0)
    assert stored["allow_overlap"] is True
    assert stored["next_run_at"] == run_at and stored["data"] is None
    assert (stored["limit"], stored["limit_key"]) == ("mailer", "customer-42")
    assert Job.objects.get(pk=job.pk).pk == job.pk


def test_each_combination_of_defaulted_columns_has_its_own_statement():
    plain = Job.objects.get(pk=enqueue("echo", {"x": 1}).pk)
    other = Job.objects.get(pk=enqueue("echo", {"x": 1}, queue="elsewhere", priority=5).pk)
    plain_sql, plain_params = insert_one(connection, Job, plain, cast=False)
    other_sql, other_params = insert_one(connection, Job, other, cast=False)
    assert plain_sql != other_sql
    assert len(other_params) == len(plain_params) + 2
    assert "elsewhere" in other_params and "elsewhere" not in other_sql
    # Every column is named, whether its value is a literal or a parameter.
    names = rows.insert_names(Job)
    for name in names:
        assert connection.ops.quote_name(Job._meta.get_field(name).column) in plain_sql
    assert len(plain_params) < len(names) // 2
    # The same combination gives the very same statement: it is prepared once.
    again = Job.objects.get(pk=enqueue("echo", {"y": 2}).pk)
    assert insert_one(connection, Job, again, cast=False)[0] is plain_sql


def test_a_value_equal_to_its_default_but_given_explicitly_is_stored():
    job = enqueue("echo", None, queue="default", priority=0, allow_overlap=False)
    stored = _stored(job)
    assert (stored["queue"], stored["priority"], stored["allow_overlap"]) == ("default", 0, False)


def test_instance_refuses_names_that_are_not_attributes():
    with pytest.raises(TypeError, match="worker"):
        rows.instance(Job, worker=None)
    assert rows.instance(Job, worker_id=None, name="n").name == "n"

"""List pages cost the same few queries whatever the page size, and never COUNT(*) it all."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_jobs.admin import paginator as paginator_module
from django_jobs.admin.paginator import EstimatedCountPaginator, table_estimate
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus, Worker

pytestmark = pytest.mark.django_db


def make_jobs(count, worker):
    now = timezone.now()
    jobs = []
    for i in range(count):
        running = i % 3 == 0
        jobs.append(
            Job(
                name=f"job {i}",
                handler="echo",
                schedule="*/5 * * * *" if i % 2 else "",
                status=JobStatus.RUNNING if running else JobStatus.PENDING,
                worker=worker if running else None,
                next_run_at=now,
                last_error="Traceback\nValueError: x" if i % 4 == 0 else "",
            )
        )
    return Job.objects.bulk_create(jobs)


def make_runs(jobs, per_job):
    now = timezone.now()
    runs = [
        JobHistory(
            job=job,
            status=RunStatus.FAILED,
            attempt=attempt + 1,
            scheduled_for=now,
            duration=5,
            error="ValueError: x",
        )
        for job in jobs
        for attempt in range(per_job)
    ]
    JobHistory.objects.bulk_create(runs)


def get_counting(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response, [q["sql"] for q in captured.captured_queries]


def queries_for(client, url):
    return get_counting(client, url)[1]


@pytest.mark.parametrize(
    "url_name, query",
    [
        ("admin:django_jobs_job_changelist", ""),
        ("admin:django_jobs_job_changelist", "?status__exact=running&kind=recurring"),
        ("admin:django_jobs_jobhistory_changelist", ""),
        ("admin:django_jobs_jobhistory_changelist", "?status__exact=failed&handler=echo"),
    ],
)
def test_query_count_does_not_grow_with_rows(admin_client, url_name, query):
    worker = Worker.objects.create(name="w", hostname="h", pid=1)
    url = reverse(url_name) + query
    make_runs(make_jobs(5, worker), 1)
    few, small = get_counting(admin_client, url)
    make_runs(make_jobs(45, worker), 1)
    many, large = get_counting(admin_client, url)
    assert len(many.context["cl"].result_list) >= 5 * len(few.context["cl"].result_list) > 0
    assert len(small) == len(large), "\n".join(large)
    assert len(large) <= 8, "\n".join(large)


@pytest.mark.parametrize(
    "url_name", ["admin:django_jobs_job_changelist", "admin:django_jobs_jobhistory_changelist"]
)
def test_counting_is_capped(admin_client, url_name, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 10)
    make_runs(make_jobs(30, None), 1)
    sql = queries_for(admin_client, reverse(url_name))
    counts = [q for q in sql if "COUNT(" in q.upper()]
    assert counts and all("LIMIT" in q.upper() for q in counts), counts
    response = admin_client.get(reverse(url_name))
    model = response.context["cl"].model
    # Past the cap, an unfiltered list reports the database's estimate when it has one.
    expected = max(table_estimate(model, "default") or 0, 10)
    assert response.context["cl"].result_count == expected


def test_a_big_unfiltered_table_reports_the_estimate(monkeypatch):
    make_jobs(30, None)
    monkeypatch.setattr(paginator_module, "table_estimate", lambda model, using: 1_000_000)
    paginator = EstimatedCountPaginator(Job.objects.all(), 100)
    paginator.cap = 10
    assert paginator.count == 1_000_000
    filtered = EstimatedCountPaginator(Job.objects.filter(handler="echo"), 100)
    filtered.cap = 10
    assert filtered.count == 10
    small = EstimatedCountPaginator(Job.objects.all(), 100)
    assert small.count == 30


def test_table_estimate_works_on_every_database():
    value = table_estimate(JobHistory, "default")
    if connection.vendor in ("postgresql", "mysql"):
        assert value is None or value >= 0
    else:
        assert value is None


def test_lists_sort_on_indexed_columns(admin_client):
    make_jobs(3, None)
    jobs = queries_for(admin_client, reverse("admin:django_jobs_job_changelist"))
    assert any('ORDER BY "django_jobs_job"."id" DESC' in q.replace("`", '"') for q in jobs)
    runs = queries_for(admin_client, reverse("admin:django_jobs_jobhistory_changelist"))
    assert any("ORDER BY" in q and "started_at" in q.split("ORDER BY")[-1] for q in runs)

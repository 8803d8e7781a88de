"""Job and history lists: filters, ordering, bounded pages, and a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jobs.api import pagination
from django_jobs.models import Job, JobHistory, Worker

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def jobs(make_job):
    now = timezone.now()
    return {
        "pending": make_job(name="Alpha report", handler="echo", queue="default", priority=1),
        "failed": make_job(name="beta", handler="fail", status="failed", last_run_at=now),
        "recurring": make_job(
            name="gamma REPORT", handler="noop", schedule="5m", next_run_at=now + timedelta(hours=1)
        ),
        "mail": make_job(name="delta", handler="echo", queue="mail", priority=-3),
    }


def test_default_order_is_newest_first(api, jobs):
    assert ids(api.get("/api/jobs")) == sorted((job.pk for job in jobs.values()), reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", ["mail", "recurring", "pending"]),
        ("status=failed", ["failed"]),
        ("status=completed", []),
        ("handler=echo", ["mail", "pending"]),
        ("handler=nothing", []),
        ("queue=mail", ["mail"]),
        ("search=report", ["recurring", "pending"]),
        ("search=ALPHA", ["pending"]),
        ("recurring=true", ["recurring"]),
        ("recurring=false", ["mail", "failed", "pending"]),
        ("status=pending&handler=echo&queue=default", ["pending"]),
    ],
)
def test_filters(api, jobs, query, expected):
    assert ids(api.get(f"/api/jobs?{query}")) == [jobs[name].pk for name in expected]


@pytest.mark.parametrize(
    "query",
    [
        "status=sleeping",
        "status=PENDING",
        "recurring=maybe",
        "ordering=data",
        "ordering=-secret",
        "ordering=name,password",
        "handler=" + "x" * 201,
    ],
)
def test_unknown_filter_values_are_a_400(api, jobs, query):
    response = api.get(f"/api/jobs?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["pending", "failed", "mail", "recurring"]),
        ("-name", ["recurring", "mail", "failed", "pending"]),
        ("priority", ["mail", "recurring", "failed", "pending"]),
        ("-priority", ["pending", "recurring", "failed", "mail"]),
        ("id", ["pending", "failed", "recurring", "mail"]),
        ("status,id", ["failed", "pending", "recurring", "mail"]),
        ("created_at", ["pending", "failed", "recurring", "mail"]),
    ],
)
def test_ordering(api, jobs, ordering, expected):
    Job.objects.filter(name__in=["Alpha report"]).update(name="alpha report")
    assert ids(api.get(f"/api/jobs?ordering={ordering}")) == [jobs[n].pk for n in expected]


def test_ordering_by_nullable_instants(api, jobs):
    assert ids(api.get("/api/jobs?ordering=-last_run_at"))[0] in {
        jobs["failed"].pk,
        *[job.pk for job in jobs.values() if job.last_run_at is None],
    }
    by_next = ids(api.get("/api/jobs?ordering=next_run_at&status=pending"))
    assert by_next[-1] == jobs["recurring"].pk


def test_ties_are_broken_newest_first(api, make_job):
    made = [make_job(name="same", priority=1) for _ in range(3)]
    assert ids(api.get("/api/jobs?ordering=priority")) == [job.pk for job in reversed(made)]


def test_pages_and_links(api, make_job):
    made = [make_job(name=f"j{n}") for n in range(7)]
    first = api.get("/api/jobs?page_size=3").json()
    assert first["count"] == 7 and first["count_capped"] is False
    assert [r["id"] for r in first["results"]] == [job.pk for job in made[::-1][:3]]
    assert first["previous"] is None and "page=2" in first["next"]
    second = api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [job.pk for job in made[::-1][3:6]]
    third = api.get(second["next"]).json()
    assert [r["id"] for r in third["results"]] == [made[0].pk]
    assert third["next"] is None and "page=2" in third["previous"]
    assert "page=" not in second["previous"]


def test_page_size_defaults_and_bounds(api, make_job):
    for n in range(6):
        make_job(name=f"j{n}")
    with override_settings(DJANGO_JOBS={"API_PAGE_SIZE": 2, "API_MAX_PAGE_SIZE": 4}):
        assert len(ids(api.get("/api/jobs"))) == 2
        assert len(ids(api.get("/api/jobs?page_size=3"))) == 3
        assert len(ids(api.get("/api/jobs?page_size=1000000"))) == 4
        assert len(ids(api.get(f"/api/jobs?page_size={'1' * 40}"))) == 4


@pytest.mark.parametrize("junk", ["0", "000", "-1", "abc", "²", "2.5", "\uff13"])
def test_a_page_size_below_1_or_not_a_whole_number_is_a_400(api, make_job, junk):
    make_job()
    response = api.get("/api/jobs", {"page_size": junk})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["page_size must be a whole number from 1"]}


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99", "1" * 30, "\uff13"])
def test_invalid_or_empty_pages_are_404(api, page, make_job):
    make_job()
    assert api.get(f"/api/jobs?page={page}").status_code == 404


def test_an_empty_first_page_is_fine(api):
    body = api.get("/api/jobs").json()
    assert body == {
        "count": 0,
        "count_capped": False,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_the_count_stops_at_the_cap_but_paging_goes_on(api, monkeypatch, make_job):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 3)
    made = [make_job(name=f"j{n}") for n in range(6)]
    body = api.get("/api/jobs?page_size=2&page=3").json()
    assert (body["count"], body["count_capped"]) == (3, True)
    assert [r["id"] for r in body["results"]] == [made[1].pk, made[0].pk]
    assert body["next"] is None
    narrow = api.get("/api/jobs?page_size=2&search=j5").json()
    assert (narrow["count"], narrow["count_capped"]) == (1, False)


def make_rows(n):
    """``n`` jobs of every kind, running ones on workers, so each serializer path is used."""
    workers = [Worker.objects.create(name=f"w{i}", hostname="h", pid=i) for i in range(3)]
    now = timezone.now()
    rows = []
    for i in range(n):
        kind = i % 4
        rows.append(
            Job(
                name=f"job {i}",
                handler="echo",
                schedule="*/5 * * * *" if kind == 0 else "",
                timezone="Europe/Paris" if kind == 0 else "",
                status="running" if kind == 1 else "pending",
                worker=workers[i % 3] if kind == 1 else None,
                next_run_at=now,
                data={"i": i},
            )
        )
    Job.objects.bulk_create(rows)
    job = Job.objects.order_by("id").first()
    JobHistory.objects.bulk_create(
        [JobHistory(job=job, status="completed", attempt=i + 1) for i in range(n)]
    )
    return job


@pytest.mark.parametrize(
    "url",
    [
        "/api/jobs?page_size={n}",
        "/api/jobs?page_size={n}&status=pending&ordering=-next_run_at",
        "/api/jobs?page_size={n}&search=job&recurring=false",
        "/api/jobs/{job}/history?page_size={n}",
    ],
)
def test_a_list_runs_the_same_few_queries_whatever_the_page_size(api, url):
    job = make_rows(50)
    counts = []
    for size in (5, 50):
        api.get(url.format(n=size, job=job.pk))  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = api.get(url.format(n=size, job=job.pk))
        assert response.status_code == 200
        assert len(response.json()["results"]) >= min(size, 25)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # Session and user, the user's and their groups' model permissions (one query, see
    # django_jobs.permissions.load_model_permissions), then the page and its capped
    # count (a history page with runs needs no read of its job).
    assert counts[0] <= 5, counts


def test_count_query_is_bounded(api, django_assert_max_num_queries):
    make_rows(8)
    with CaptureQueriesContext(connection) as queries:
        api.get("/api/jobs?page_size=5")
    count_sql = [q["sql"] for q in queries.captured_queries if "COUNT" in q["sql"].upper()]
    assert len(count_sql) == 1
    assert "LIMIT" in count_sql[0].upper()

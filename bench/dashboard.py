"""Time every dashboard page (and the metrics endpoint) at a million jobs and history rows.

    .venv/bin/python bench/dashboard.py [--jobs 1000000] [--history 1000000] [--repeat 5]
        [--db postgresql|mysql|sqlite]

Makes a fresh database ``bench_dashboard`` (PostgreSQL: ``BENCH_PGHOST``,
``BENCH_PGPORT``, ``BENCH_PGUSER``, default postgres@127.0.0.1:5432; MariaDB or
MySQL: ``BENCH_MYSQL``, default root@127.0.0.1:3306; SQLite: a file in the
temporary folder), fills it (``generate_series`` on PostgreSQL, the same rows
in batches elsewhere), renders each page through Django's test client as a
superuser and prints the median and the slowest of ``--repeat`` renders. It
also prints what rolling up the history costs, all at once and a step at a
time as the dashboard does it, and what the same 7-day chart costs read
straight from the history's finish-time index. It prints figures only; it
asserts nothing about them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = (
    os.environ.get("BENCH_PGUSER", "postgres"),
    os.environ.get("BENCH_PGHOST", "127.0.0.1"),
    os.environ.get("BENCH_PGPORT", "5432"),
)
MYSQL = os.environ.get("BENCH_MYSQL", "root:@127.0.0.1:3306")
DB = "bench_dashboard"
ERRORS = ["ValueError", "KeyError", "TimeoutError"]

JOBS_SQL = """
INSERT INTO django_jobs_job (name, handler, data, schedule, timezone, key, status, queue,
  priority, attempts, max_attempts, allow_overlap, next_run_at, scheduled_for, last_run_at,
  last_error, consecutive_failures, missed_runs, cancel_requested, paused, created_at, updated_at)
SELECT 'job ' || g, 'handler_' || (g %% 10), jsonb_build_object('n', g),
  CASE WHEN g <= %(recurring)s THEN '5m' ELSE '' END, '',
  CASE WHEN g <= %(recurring)s THEN 'recurring-' || g END,
  CASE WHEN g <= %(recurring)s THEN 'pending'
       WHEN g %% 100 < 90 THEN 'completed' WHEN g %% 100 < 95 THEN 'failed'
       WHEN g %% 100 < 99 THEN 'pending' ELSE 'cancelled' END,
  (ARRAY['default', 'mail', 'reports'])[1 + g %% 3], 0, 1, 3, false,
  CASE WHEN g <= %(recurring)s OR g %% 100 BETWEEN 95 AND 98
       THEN now() + ((g %% 2) * 2 - 1) * interval '1 hour' * random() END,
  NULL, now() - interval '1 minute' * (g %% 10000),
  CASE WHEN g %% 100 BETWEEN 90 AND 94
       THEN (ARRAY['ValueError', 'KeyError', 'TimeoutError'])[1 + g %% 3] || ': bad input ' || g
       ELSE '' END,
  0, 0, false, false,
  now() - interval '7 days' * (1 - g::float / %(jobs)s), now()
FROM generate_series(1, %(jobs)s) AS g
"""

HISTORY_SQL = """
INSERT INTO django_jobs_jobhistory (job_id, status, attempt, worker, started_at, completed_at,
  error, result, duration)
SELECT %(first)s + (g %% %(jobs)s),
  CASE WHEN g %% 100 < 93 THEN 'completed' ELSE 'failed' END, 1, 'bench-worker',
  at, at + interval '1 millisecond' * ms,
  CASE WHEN g %% 100 < 93 THEN ''
       ELSE (ARRAY['ValueError', 'KeyError', 'TimeoutError'])[1 + g %% 3]
            || ': bad input ' || g END,
  CASE WHEN g %% 100 < 93 THEN jsonb_build_object('ok', g) END, ms
FROM (SELECT g, now() - interval '7 days' * random() AS at, (5 + 2000 * random() ^ 3)::int AS ms
      FROM generate_series(1, %(history)s) AS g) AS runs
"""


def make_database(db: str, name: str = DB) -> None:
    """A fresh database ``name``, and the settings that use it (also bench/limit_groups.py's)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = database_url(db, name)
    if db == "sqlite":
        Path(database_url(db, name).removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    if db == "mysql":
        import MySQLdb

        credentials, _, address = MYSQL.partition("@")
        user, _, password = credentials.partition(":")
        host, _, port = address.partition(":")
        conn = MySQLdb.connect(host=host, port=int(port or 3306), user=user, password=password)
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        conn.close()
        return
    import psycopg

    user, host, port = PG
    with psycopg.connect(f"postgresql://{user}@{host}:{port}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_url(db: str, name: str = DB) -> str:
    if db == "sqlite":
        import tempfile

        return f"sqlite:///{tempfile.gettempdir()}/{name}.sqlite3"
    if db == "mysql":
        return f"mysql://{MYSQL}/{name}"
    user, host, port = PG
    return f"postgres://{user}@{host}:{port}/{name}"


def seed_in_batches(jobs: int, history: int, recurring: int = 200) -> None:
    """The rows JOBS_SQL and HISTORY_SQL write, for databases without generate_series."""
    import random
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from django_jobs.models import Job, JobHistory

    rng = random.Random(14)
    now = timezone.now()
    batch = 5000
    for start in range(1, jobs + 1, batch):
        rows = []
        for g in range(start, min(jobs, start + batch - 1) + 1):
            is_recurring, bucket = g <= recurring, g % 100
            status = (
                "pending"
                if is_recurring
                else "completed"
                if bucket < 90
                else "failed"
                if bucket < 95
                else "pending"
                if bucket < 99
                else "cancelled"
            )
            due = is_recurring or 95 <= bucket <= 98
            rows.append(
                Job(
                    name=f"job {g}",
                    handler=f"handler_{g % 10}",
                    data={"n": g},
                    schedule="5m" if is_recurring else "",
                    key=f"recurring-{g}" if is_recurring else None,
                    status=status,
                    queue=["default", "mail", "reports"][g % 3],
                    next_run_at=now + ((g % 2) * 2 - 1) * timedelta(hours=rng.random())
                    if due
                    else None,
                    last_run_at=now - timedelta(minutes=g % 10000),
                    last_error=f"{ERRORS[g % 3]}: bad input {g}" if 90 <= bucket <= 94 else "",
                    created_at=now - timedelta(days=7) * (1 - g / jobs),
                )
            )
        with transaction.atomic():
            Job.objects.bulk_create(rows)
    first = Job.objects.order_by("id").values_list("id", flat=True).first()
    for start in range(1, history + 1, batch):
        rows = []
        for g in range(start, min(history, start + batch - 1) + 1):
            at = now - timedelta(days=7) * rng.random()
            ms = int(5 + 2000 * rng.random() ** 3)
            ok = g % 100 < 93
            rows.append(
                JobHistory(
                    job_id=first + g % jobs,
                    status="completed" if ok else "failed",
                    worker="bench-worker",
                    started_at=at,
                    completed_at=at + timedelta(milliseconds=ms),
                    error="" if ok else f"{ERRORS[g % 3]}: bad input {g}",
                    result={"ok": g} if ok else None,
                    duration=ms,
                )
            )
        with transaction.atomic():
            JobHistory.objects.bulk_create(rows)


def seed(jobs: int, history: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from django_jobs.models import Worker

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    params = {"jobs": jobs, "history": history, "recurring": 200}
    if connection.vendor != "postgresql":
        seed_in_batches(jobs, history)
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE"
                if connection.vendor == "sqlite"
                else "ANALYZE TABLE django_jobs_job, django_jobs_jobhistory"
            )
    else:
        with connection.cursor() as cursor:
            cursor.execute(JOBS_SQL, params)
            cursor.execute("SELECT min(id) FROM django_jobs_job")
            params["first"] = cursor.fetchone()[0]
            cursor.execute(HISTORY_SQL, params)
            # Autovacuum keeps a live table's statistics and visibility map; do its work now.
            cursor.execute("VACUUM ANALYZE")
    for i in range(4):
        Worker.objects.create(name=f"bench-{i}", hostname="bench", pid=1000 + i, concurrency=10)
    Worker.objects.filter(name="bench-3").update(last_heartbeat=timezone.now().replace(year=2020))
    took = time.perf_counter() - started
    print(f"seeded {jobs:,} jobs and {history:,} history rows in {took:.1f} s")


def timed(call, repeat: int) -> tuple[float, float]:
    call()  # warm the caches once; the figures are for a page people keep open
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def compare_rollup() -> None:
    """The two ways to draw the 7-day chart: straight from the history, or from the roll-up."""
    from datetime import timedelta
    from datetime import timezone as dt_timezone

    from django.db.models import Count
    from django.db.models.functions import TruncHour
    from django.utils import timezone

    from django_jobs.dashboard import listing, rollup
    from django_jobs.models import FailureHour, JobHistory, RollupRange, RunHour

    mode = "any part of the name" if listing.substring_search() else "the start of the name"
    print(f"text search matches {mode}")

    now = timezone.now()

    def forget() -> None:
        RunHour.objects.all().delete()
        FailureHour.objects.all().delete()
        RollupRange.objects.all().delete()

    forget()
    started = time.perf_counter()
    rows = rollup.refresh(now, step=24 * 9)
    took = (time.perf_counter() - started) * 1000
    print(f"rolling up 8 days at once ({rows:,} rows): {took:,.0f} ms")
    forget()
    steps = []
    while not steps or RollupRange.objects.get().start > rollup.hour_floor(
        rollup.closed_until(now) - rollup.REACH
    ):
        started = time.perf_counter()
        rollup.refresh(now)
        steps.append((time.perf_counter() - started) * 1000)
    print(
        f"rolling up 8 days {rollup.STEP_HOURS} hours a step, as readers and workers do: "
        f"{len(steps)} steps, median {statistics.median(steps):,.1f} ms, max {max(steps):,.1f} ms"
    )

    def direct() -> None:
        list(
            JobHistory.objects.filter(completed_at__gte=now - timedelta(days=7))
            .annotate(hour=TruncHour("completed_at", tzinfo=dt_timezone.utc))
            .values("hour", "status")
            .annotate(n=Count("id"))
            .order_by()
        )

    def rolled() -> None:
        rollup.runs(now - timedelta(days=7), timezone.now(), (), hourly=True)

    for name, call in (("history index", direct), ("run-hour roll-up", rolled)):
        median, worst = timed(call, 3)
        print(f"7-day hourly chart from the {name}: median {median:,.1f} ms, max {worst:,.1f} ms")


def pages(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from django_jobs.models import Job

    setup_test_environment()
    admin, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    job = Job.objects.filter(handler="handler_3").order_by("-id").first()
    # A page in the middle of the list, reached through its cursor as the "Next page" link does.
    middle = Job.objects.order_by("-id").values_list("id", flat=True)[Job.objects.count() // 2]
    ran = Job.objects.filter(pk=middle).values_list("last_run_at", flat=True).get()
    urls = [
        "/dashboard/",
        "/dashboard/cards/",
        "/dashboard/data.json",
        "/dashboard/jobs/",
        "/dashboard/jobs/?status=failed",
        "/dashboard/jobs/?handler=handler_3&o=-last_run_at",
        "/dashboard/jobs/?q=job+99999",
        "/dashboard/jobs/?o=name",
        f"/dashboard/jobs/?after={middle}&page=10000",
        f"/dashboard/jobs/?o=-last_run_at&after={middle}:{quote(ran.isoformat())}&page=10000",
        f"/dashboard/jobs/{job.pk}/",
        "/dashboard/recurring/",
        "/dashboard/workers/",
        "/dashboard/handlers/?window=24h",
        "/dashboard/handlers/?window=7d",
        "/dashboard/queues/?window=24h",
        "/dashboard/failures/?window=24h",
        "/dashboard/failures/?window=7d",
        "/dashboard/metrics/",
    ]
    print(f"{'page':<52} {'median ms':>10} {'max ms':>10}")
    for url in urls:

        def get(url: str = url) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")

        median, worst = timed(get, repeat)
        print(f"{url:<52} {median:>10.1f} {worst:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-indexes",
        action="store_true",
        help="without the sort and search indexes of manage.py dashboardindexes",
    )
    parser.add_argument("--db", choices=["postgresql", "mysql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--reuse", action="store_true", help="time the pages of the database the last run filled"
    )
    args = parser.parse_args()
    if args.reuse:
        os.environ["DATABASE_URL"] = database_url(args.db)
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    else:
        make_database(args.db)
    import django

    django.setup()
    from django.core.management import call_command

    if args.reuse:
        call_command("migrate", verbosity=0)
    else:
        seed(args.jobs, args.history)
    if args.no_indexes:
        call_command("dashboardindexes", "--drop")
    else:
        # What the jobs list advises at this size (docs/dashboard.md).
        call_command("dashboardindexes")
    compare_rollup()
    pages(args.repeat)


if __name__ == "__main__":
    main()

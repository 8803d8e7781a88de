"""Time every dashboard page (and the metrics endpoint) at a million jobs and history rows.

    .venv/bin/python bench/dashboard.py [--jobs 1000000] [--history 1000000] [--repeat 5]

Makes a fresh PostgreSQL database ``bench_dashboard`` (``BENCH_PGHOST``,
``BENCH_PGPORT``, ``BENCH_PGUSER``; default postgres@127.0.0.1:5432), fills it
with ``generate_series``, renders each page through Django's test client as a
superuser and prints the median and the slowest of ``--repeat`` renders. It
also prints what the run-minute roll-up costs the first time and what the
same 7-day chart costs read straight from the history's finish-time index.
It prints figures only; it asserts nothing about them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = (
    os.environ.get("BENCH_PGUSER", "postgres"),
    os.environ.get("BENCH_PGHOST", "127.0.0.1"),
    os.environ.get("BENCH_PGPORT", "5432"),
)
DB = "bench_dashboard"

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


def make_database() -> None:
    import psycopg

    user, host, port = PG
    with psycopg.connect(f"postgresql://{user}@{host}:{port}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    os.environ["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{DB}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"


def seed(jobs: int, history: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from django_jobs.models import Worker

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    params = {"jobs": jobs, "history": history, "recurring": 200}
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

    from django_jobs.dashboard import rollup
    from django_jobs.models import JobHistory, RunHour

    now = timezone.now()
    RunHour.objects.all().delete()
    started = time.perf_counter()
    rows = rollup.refresh(now)
    took = (time.perf_counter() - started) * 1000
    print(f"first roll-up of 8 days ({rows:,} run-hour rows): {took:,.0f} ms")

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
    urls = [
        "/dashboard/",
        "/dashboard/cards/",
        "/dashboard/data.json",
        "/dashboard/jobs/",
        "/dashboard/jobs/?status=failed",
        "/dashboard/jobs/?handler=handler_3&o=-last_run_at",
        "/dashboard/jobs/?q=job+99999",
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
        "--reuse", action="store_true", help="time the pages of the database the last run filled"
    )
    args = parser.parse_args()
    if args.reuse:
        user, host, port = PG
        os.environ["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{DB}"
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    else:
        make_database()
    import django

    django.setup()
    if not args.reuse:
        seed(args.jobs, args.history)
    compare_rollup()
    pages(args.repeat)


if __name__ == "__main__":
    main()

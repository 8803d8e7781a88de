"""What the limited pass's first question costs as jobs pile up behind limits.

    .venv/bin/python bench/limit_groups.py [--db sqlite|postgresql|mysql]
        [--jobs 1000 10000 30000] [--keys 10] [--repeat 20]

Each worker cycle with ``LIMITS`` set asks which (limit, key) groups have due
jobs (``Engine.limit_groups``). For each count of waiting jobs, spread over
``--keys`` keys of one limit, this prints the median milliseconds of that
question as the engine answers it and as the generic grouping of every due
limited job answers it. A fresh database ``bench_limit_groups`` (PostgreSQL:
postgres@127.0.0.1:5432, ``BENCH_PGHOST`` and ``BENCH_PGPORT`` override;
MariaDB or MySQL: ``BENCH_MYSQL``, default root@127.0.0.1:3306; SQLite: a
file in the temporary folder). It prints figures only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dashboard import make_database  # noqa: E402  (bench/ is the script's folder)

DB = "bench_limit_groups"
LIMITS = {"pair": {"concurrency": 2}}


def median_ms(question, repeat: int) -> float:
    question()  # warm: statements prepared, pages cached
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        question()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "mysql"], default="sqlite")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1_000, 10_000, 30_000])
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    make_database(args.db, DB)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from django_jobs import enqueue_many
    from django_jobs.engines import base, for_alias

    engine = for_alias("default")
    print(f"{connection.vendor}, {args.keys} keys of one limit, median of {args.repeat}")
    print(f"{'jobs waiting':>12} {'engine ms':>10} {'grouping ms':>12} {'groups':>7}")
    waiting = 0
    with override_settings(DJANGO_JOBS={**settings.DJANGO_JOBS, "LIMITS": LIMITS}):
        for total in sorted(args.jobs):
            enqueue_many(
                [
                    {"handler": "noop", "limit": "pair", "limit_key": f"k{i % args.keys}"}
                    for i in range(total - waiting)
                ]
            )
            waiting = total
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE django_jobs_job")
            now = timezone.now()
            found = engine.limit_groups(None, now, 50)
            ours = median_ms(lambda now=now: engine.limit_groups(None, now, 50), args.repeat)
            grouped = median_ms(
                lambda now=now: base.Engine.limit_groups(engine, None, now, 50), args.repeat
            )
            print(f"{total:>12,} {ours:>10.2f} {grouped:>12.2f} {len(found):>7}", flush=True)
    connection.close()


if __name__ == "__main__":
    main()

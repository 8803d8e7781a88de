"""Does claiming and completing stay flat as the tables grow?

    /path/to/venv/bin/python bench/flat.py [--jobs 20000] [--finished 1000000]
                                           [--future 100000] [--repeat 2] [--keep]

Creates the database ``bench_flat`` (dropped at the end unless ``--keep``),
migrates django_jobs there and measures, in one process:

1. empty tables: ``enqueue_many`` N due no-op jobs, ``VACUUM ANALYZE``, drain
   them with one in-process ``WorkerLoop(concurrency=10, listen=False).run_once()``;
2. the same with 1,000,000 finished jobs, 1,000,000 history rows and 100,000
   pending jobs due tomorrow, written with ``INSERT ... SELECT generate_series``;
3. ``prune()`` of old finished rows, alone and while a worker drains;
4. an extra: the not-yet-due jobs at a higher priority than the due ones.

Each drained batch is deleted afterwards, so every repeat sees the same state.
Every claim/completion statement is timed by wrapping the PostgreSQL engine's
``fetch_all``; ``pg_stat_user_tables``/``_indexes`` deltas show what
the drain read. A measurement is retried once if the server restarted during
it or a connection error reached this script. See bench/FLAT.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = {
    "host": os.environ.get("BENCH_PGHOST", "127.0.0.1"),
    "port": os.environ.get("BENCH_PGPORT", "5432"),
    "user": os.environ.get("BENCH_PGUSER", "postgres"),
}
DB = "bench_flat"
JOB = "django_jobs_job"
HIST = "django_jobs_jobhistory"
# The worker's pick: the priorities with pending jobs, highest first, due jobs of each.
PICK = f"""
WITH RECURSIVE levels (p) AS (
    (SELECT priority FROM {JOB} WHERE status = 'pending' ORDER BY priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT priority FROM {JOB} WHERE status = 'pending' AND priority < levels.p
            ORDER BY priority DESC LIMIT 1)
    FROM levels WHERE levels.p IS NOT NULL
)
SELECT due.id FROM levels CROSS JOIN LATERAL (
    SELECT id FROM {JOB} WHERE status = 'pending' AND priority = levels.p
        AND next_run_at <= now()
    ORDER BY next_run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED
) AS due LIMIT 10"""
# Finished rows are spread over the last 30 days, oldest first (lowest ids).
SPAN_DAYS = 30
PREPARED = "prepared"


# -- plain SQL on a fresh connection each time: survives a server restart ------------------


def connect(dbname: str = DB, **kwargs) -> psycopg.Connection:
    return psycopg.connect(dbname=dbname, connect_timeout=5, **PG, **kwargs)


def sql(query: str, params=None, *, dbname: str = DB) -> list[tuple]:
    with connect(dbname, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def server_started():
    return sql("SELECT pg_postmaster_start_time()", dbname="postgres")[0][0]


def wait_for_server(limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            server_started()
            return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def vacuum_analyze() -> None:
    with connect(autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(f"VACUUM ANALYZE {JOB}")
        conn.execute(f"VACUUM ANALYZE {HIST}")


def explain(query: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled back (the pick locks rows)."""
    with connect() as conn:
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {query}").fetchall()
        conn.rollback()
    return "\n".join("    " + row[0] for row in rows)


def explain_prepared(mode: str) -> str:
    """The single-scan pick prepared with its status a parameter: why statuses are literals."""
    with connect() as conn:
        conn.execute(f"SET plan_cache_mode = {mode}")
        conn.execute(
            f"PREPARE pick(varchar, timestamptz, bigint) AS SELECT id FROM {JOB} "
            "WHERE status = $1 AND next_run_at <= $2 "
            "ORDER BY priority DESC, next_run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED"
        )
        rows = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE pick('pending', now(), 10)"
        ).fetchall()
        conn.rollback()
    return "\n".join("    " + row[0] for row in rows)


def table_stats() -> dict:
    """Cumulative scan counters of the two tables and their indexes (flushed ~1 s late)."""
    time.sleep(1.2)
    out = {}
    for name, seq, seq_read, idx, idx_fetch in sql(
        "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), "
        "coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname IN (%s, %s)",
        [JOB, HIST],
    ):
        out[name] = (seq, seq_read, idx, idx_fetch)
    for name, scans, read in sql(
        "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes "
        "WHERE relname IN (%s, %s)",
        [JOB, HIST],
    ):
        out[name] = (scans, read)
    return out


def stats_delta(before: dict, after: dict) -> list[str]:
    lines = []
    for table in (JOB, HIST):
        b, a = before.get(table, (0, 0, 0, 0)), after.get(table, (0, 0, 0, 0))
        d = [x - y for x, y in zip(a, b, strict=True)]
        lines.append(
            f"    {table}: seq scans {d[0]} (rows read {d[1]}), index scans {d[2]} "
            f"(heap rows fetched {d[3]})"
        )
    for name in sorted(k for k in after if k not in (JOB, HIST)):
        b = before.get(name, (0, 0))
        scans, read = after[name][0] - b[0], after[name][1] - b[1]
        if scans:
            lines.append(f"      {name}: {scans} scans, {read} entries read")
    return lines


def sizes() -> list[str]:
    rows = sql(
        "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relname LIKE 'django_jobs%%' AND c.relkind IN ('r', 'i') "
        "ORDER BY pg_relation_size(c.oid) DESC"
    )
    return [f"    {name}: {size}" for name, size in rows]


# -- Django -----------------------------------------------------------------------------


def setup_django() -> None:
    import django
    from django.conf import settings

    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DB,
        "USER": PG["user"],
        "HOST": PG["host"],
        "PORT": PG["port"],
    }
    settings.configure(
        SECRET_KEY="bench-only",
        DEBUG=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
        DATABASES={
            "default": database,
            # The same database with psycopg's server-side prepared statements on:
            # Django leaves prepare_threshold None, which makes psycopg ignore prepare=True.
            PREPARED: {**database, "OPTIONS": {"prepare_threshold": 5}},
        },
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_jobs"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DJANGO_JOBS={"NOTIFY": False},
        LOGGING_CONFIG=None,
    )
    django.setup()
    # A worker logs every outage with a traceback; this script reports disturbances itself.
    logging.getLogger("django_jobs").addHandler(logging.NullHandler())

    from django_jobs import handler

    @handler("noop")
    def noop(data):
        return None


# Statement timings: (kind, started monotonic, seconds, rows returned).
TIMES: list[tuple[str, float, float, int]] = []


def time_statements() -> None:
    """Time every call of the worker's claim/completion statements."""
    from django_jobs.engines import postgresql

    original = postgresql.fetch_all

    def timed(connection, query, params):
        start = time.monotonic()
        rows = original(connection, query, params)
        kind = statement_kind(query)
        if kind:
            TIMES.append((kind, start, time.monotonic() - start, len(rows)))
        return rows

    postgresql.fetch_all = timed


def statement_kind(query: str) -> str:
    """Which of the engine's statements ``query`` is ("" for any other)."""
    if query.startswith("WITH RECURSIVE levels"):
        return "claim"
    if query.startswith("WITH RECURSIVE v AS"):
        return "finish+claim"
    return "finish" if query.startswith("WITH v AS") else ""


def db_errors() -> tuple:
    from django import db

    return (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        db.OperationalError,
        db.InterfaceError,
    )


def close_django() -> None:
    from django.db import connections

    try:
        connections.close_all()
    except db_errors():
        pass


class Disturbed(Exception):
    pass


def retried(label: str, fn, cleanup=None):
    """Run ``fn``; once more if the server restarted or a connection error reached us."""
    for attempt in (1, 2):
        try:
            started = server_started()
            result = fn()
            if server_started() != started:
                raise Disturbed("the server restarted during the measurement")
            return result
        except (Disturbed, *db_errors()) as exc:
            print(f"  !! {label} disturbed ({type(exc).__name__}: {exc}".rstrip() + ")")
            if attempt == 2:
                raise
            time.sleep(2.0)
            wait_for_server()
            close_django()
            if cleanup:
                cleanup()
            print(f"  !! retrying {label}")


# -- the measurements ---------------------------------------------------------------------


def enqueue(n: int) -> tuple[int, int, float]:
    """``enqueue_many`` n due no-op jobs in chunks of 10,000; (first id, last id, jobs/s)."""
    from django_jobs import enqueue_many

    ids = []
    start = time.perf_counter()
    for offset in range(0, n, 10_000):
        created = enqueue_many([{"handler": "noop"}] * min(10_000, n - offset))
        ids += [job.pk for job in created]
    elapsed = time.perf_counter() - start
    close_django()
    return min(ids), max(ids), n / elapsed


def delete_range(first: int, last: int) -> None:
    sql(f"DELETE FROM {HIST} WHERE job_id BETWEEN %s AND %s", [first, last])
    sql(f"DELETE FROM {JOB} WHERE id BETWEEN %s AND %s", [first, last])
    sql("DELETE FROM django_jobs_worker")


def drain_once(n: int, first: int, last: int, using: str = "default") -> dict:
    from django.db import connections

    from django_jobs.worker import WorkerLoop

    class Probe(WorkerLoop):
        """Reads, before it closes its connection, how PostgreSQL planned its statements."""

        plans: list = []

        def shutdown(self, grace=-1.0):
            try:
                with connections[self.using].cursor() as cursor:
                    cursor.execute(
                        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                    )
                    self.plans = cursor.fetchall()
            except db_errors():
                pass
            super().shutdown(grace)

    del TIMES[:]
    before = table_stats()
    worker = Probe(concurrency=10, listen=False, using=using)
    start = time.perf_counter()
    finished = worker.run_once()
    elapsed = time.perf_counter() - start
    done = sql(
        f"SELECT count(*) FROM {JOB} WHERE id BETWEEN %s AND %s AND status = 'completed'",
        [first, last],
    )[0][0]
    if finished != n or done != n:
        raise Disturbed(f"{done} of {n} jobs completed ({finished} attempts finished)")
    after = table_stats()
    plans = []
    for statement, generic, custom in worker.plans:
        kind = "claim" if "picked" in statement else ""
        kind = ("finish+" + kind if kind else "finish") if "unnest" in statement else kind
        plans.append(f"    {kind or statement[:40]:13} generic plans {generic}, custom {custom}")
    return {
        "rate": n / elapsed,
        "seconds": elapsed,
        "times": list(TIMES),
        "stats": (before, after),
        "plans": plans,
    }


def statement_summary(times: list) -> list[str]:
    by_kind = defaultdict(list)
    for kind, _start, seconds, rows in times:
        by_kind[kind].append((seconds, rows))
    lines = []
    for kind, items in sorted(by_kind.items()):
        ms = sorted(s * 1000 for s, _ in items)
        p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
        rows = sum(r for _, r in items)
        lines.append(
            f"    {kind:13} {len(ms):5} calls, median {statistics.median(ms):6.2f} ms, "
            f"p95 {p95:6.2f} ms, max {ms[-1]:7.2f} ms, {rows / len(ms):5.1f} rows a call"
        )
    return lines


def drain(label: str, n: int, repeat: int, using: str = "default", plans: bool = True) -> dict:
    """Enqueue, VACUUM ANALYZE, EXPLAIN the pick, drain; ``repeat`` times; the best run wins."""
    runs = []
    for i in range(repeat):
        ids: list[int] = []

        def one(ids=ids):
            first, last, enq_rate = enqueue(n)
            ids[:] = [first, last]
            vacuum_analyze()
            plan = explain(PICK) if not runs else None
            result = drain_once(n, first, last, using)
            result["enqueue"], result["plan"] = enq_rate, plan
            return result

        def cleanup(ids=ids):
            if ids:
                delete_range(*ids)
                del ids[:]

        result = retried(f"{label} drain {i + 1}", one, cleanup)
        cleanup()
        vacuum_analyze()
        runs.append(result)
        print(
            f"  {label} run {i + 1}: drain {result['rate']:7.0f} jobs/s "
            f"({result['seconds']:.2f} s), enqueue_many {result['enqueue']:7.0f} jobs/s"
        )
    best = max(runs, key=lambda r: r["rate"])
    best["runs"] = [r["rate"] for r in runs]
    best["enqueues"] = [r["enqueue"] for r in runs]
    best["plan"] = runs[0]["plan"]
    print(f"  {label}: best of {repeat}: {best['rate']:.0f} jobs/s; statements of that run:")
    print("\n".join(statement_summary(best["times"])))
    print("  how the worker's prepared statements were planned:")
    print("\n".join(best["plans"]) or "    none prepared (Django leaves prepare_threshold None)")
    print("  what the drain read (pg_stat deltas):")
    print("\n".join(stats_delta(*best["stats"])))
    if not plans:
        return best
    print(f"  EXPLAIN of the pick with {n} due jobs present:")
    print(best["plan"])
    idle = retried(f"{label} idle explain", lambda: explain(PICK))
    print("  EXPLAIN of the pick with nothing due (an idle poll):")
    print(idle)
    generic = retried(f"{label} generic explain", lambda: explain_prepared("force_generic_plan"))
    print("  EXPLAIN of the pick prepared, status a parameter, generic plan (nothing due):")
    print(generic)
    return best


def fill(finished: int, future: int) -> None:
    """The big state, in SQL: finished jobs with one history row each, and not-yet-due jobs."""
    statuses = "(ARRAY['completed','completed','completed','completed','completed',"
    statuses += "'completed','completed','completed','failed','cancelled'])[1 + mod(i, 10)]"
    span = f"interval '{SPAN_DAYS} days'"
    jobs = f"""
        INSERT INTO {JOB} (name, handler, data, schedule, timezone, key, status, queue,
            priority, attempts, max_attempts, timeout, misfire_grace, allow_overlap,
            next_run_at, scheduled_for, last_run_at, last_error, consecutive_failures,
            missed_runs, cancel_requested, worker_id, started_at, created_at, updated_at)
        SELECT 'noop', 'noop', jsonb_build_object('i', i), '', '', NULL, s, 'default',
            0, CASE WHEN s = 'failed' THEN 3 ELSE 1 END, 3, NULL, NULL, false,
            NULL, NULL, t - interval '1 second',
            CASE WHEN s = 'failed' THEN 'RuntimeError: boom' ELSE '' END, 0,
            0, false, NULL, NULL, t - interval '2 seconds', t
        FROM (SELECT i, {statuses} AS s,
                     now() - {span} + (i - 1) * ({span} / %s) AS t
              FROM generate_series(1, %s) AS i) AS g
        ORDER BY i"""
    history = f"""
        INSERT INTO {HIST} (job_id, status, attempt, scheduled_for, worker, started_at,
            completed_at, error, result, duration)
        SELECT id, status, attempts, NULL, 'bench:1:flat', last_run_at, updated_at,
            last_error, CASE WHEN status = 'completed' THEN 'null'::jsonb END, 1000
        FROM {JOB} ORDER BY id"""
    pending = f"""
        INSERT INTO {JOB} (name, handler, data, schedule, timezone, key, status, queue,
            priority, attempts, max_attempts, timeout, misfire_grace, allow_overlap,
            next_run_at, scheduled_for, last_run_at, last_error, consecutive_failures,
            missed_runs, cancel_requested, worker_id, started_at, created_at, updated_at)
        SELECT 'noop', 'noop', jsonb_build_object('i', i), '', '', NULL, 'pending', 'default',
            0, 0, 3, NULL, NULL, false,
            now() + interval '1 day' + i * interval '100 milliseconds', NULL, NULL, '', 0,
            0, false, NULL, NULL, now(), now()
        FROM generate_series(1, %s) AS i"""
    for label, query, params in (
        (f"{finished:,} finished jobs", jobs, [finished, finished]),
        (f"{finished:,} history rows", history, None),
        (f"{future:,} pending jobs due tomorrow", pending, [future]),
    ):

        def step(query=query, params=params):
            start = time.perf_counter()
            with connect() as conn:
                conn.execute("SET synchronous_commit = off")
                conn.execute(query, params)
            return time.perf_counter() - start

        def reset():
            sql(f"TRUNCATE {HIST}, {JOB}")

        if label.endswith("history rows"):
            reset = None  # a failed INSERT left nothing behind
        elif not label.endswith("finished jobs"):

            def reset():
                sql(f"DELETE FROM {JOB} WHERE status = 'pending'")

        seconds = retried(f"insert {label}", step, reset)
        print(f"  inserted {label} in {seconds:.1f} s")
    start = time.perf_counter()
    retried("VACUUM ANALYZE", vacuum_analyze)
    print(f"  VACUUM ANALYZE in {time.perf_counter() - start:.1f} s")
    print("  sizes:")
    print("\n".join(sizes()))


def prune_phase(n: int, finished: int) -> None:
    """``prune()`` alone, then while a worker drains n due jobs; claims must not wait on it."""
    from django.db import connections

    from django_jobs.pruning import prune

    per_day = finished / SPAN_DAYS
    # Cutoffs that each take 5% of the finished rows (50,000 at 1M), oldest first.
    cutoffs = [SPAN_DAYS - k * 1.5 for k in range(1, 6)]

    def prune_to(days: float):
        start = time.perf_counter()
        result = prune(older_than=timedelta(days=days))
        connections.close_all()
        return result, time.perf_counter() - start

    days = cutoffs.pop(0)
    result, seconds = retried("prune alone", lambda: prune_to(days))
    print(
        f"  prune alone (older than {days} days): {result.history:,} history rows and "
        f"{result.jobs:,} jobs in {seconds:.1f} s "
        f"({(result.history + result.jobs) / seconds:,.0f} rows/s)"
    )
    expected = int(per_day * 1.5)
    ids: list[int] = []

    def concurrent():
        first, last, _ = enqueue(n)
        ids[:] = [first, last]
        vacuum_analyze()
        days = cutoffs.pop(0)
        box: dict = {}

        def run():
            try:
                box["start"] = time.monotonic()
                box["result"], box["seconds"] = prune_to(days)
            except BaseException as exc:  # reported by the main thread
                box["error"] = exc
            finally:
                box["end"] = time.monotonic()

        thread = threading.Thread(target=run)
        thread.start()
        drained = drain_once(n, first, last)
        thread.join()
        if "error" in box:
            raise box["error"]
        return days, box, drained

    def cleanup():
        if ids:
            delete_range(*ids)
            del ids[:]

    days, box, drained = retried("prune during a drain", concurrent, cleanup)
    cleanup()
    result, seconds = box["result"], box["seconds"]
    print(
        f"  prune during a drain (older than {days} days): {result.history:,} history rows "
        f"and {result.jobs:,} jobs in {seconds:.1f} s (about {expected:,} of each expected)"
    )
    during = [t for t in drained["times"] if box["start"] <= t[1] <= box["end"]]
    print(
        f"  the drain beside it: {drained['rate']:.0f} jobs/s ({drained['seconds']:.2f} s); "
        f"{len(during)} of its {len(drained['times'])} statements ran while prune ran:"
    )
    print("\n".join(statement_summary(during or drained["times"])))
    vacuum_analyze()


def priority_phase(n: int) -> dict:
    """The not-yet-due jobs one priority above the due ones: the pick walks past them."""
    sql(f"UPDATE {JOB} SET priority = 1 WHERE status = 'pending'")
    vacuum_analyze()
    return drain("future at priority 1", n, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="due jobs each drain")
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--future", type=int, default=100_000, help="pending, due tomorrow")
    parser.add_argument("--repeat", type=int, default=2, help="drains per state (best wins)")
    parser.add_argument("--keep", action="store_true", help="keep the database bench_flat")
    args = parser.parse_args()

    wall = time.perf_counter()
    info = sql("SELECT version()", dbname="postgres")[0][0]
    print(f"machine: {os.cpu_count()} CPUs; {info.split(' on ')[0]}; {time.strftime('%Y-%m-%d')}")
    sql(f"DROP DATABASE IF EXISTS {DB}", dbname="postgres")
    sql(f"CREATE DATABASE {DB}", dbname="postgres")
    setup_django()
    time_statements()
    from django.core.management import call_command

    retried("migrate", lambda: call_command("migrate", "django_jobs", verbosity=0))
    close_django()
    try:
        print(f"\n== empty tables: {args.jobs:,} due no-op jobs, WorkerLoop(concurrency=10)")
        empty = drain("empty", args.jobs, args.repeat)

        print("\n== empty tables, worker statements prepared (OPTIONS prepare_threshold=5)")
        empty_prep = drain("empty, prepared", args.jobs, args.repeat, PREPARED, plans=False)

        print(
            f"\n== filling: {args.finished:,} finished jobs, {args.finished:,} history rows, "
            f"{args.future:,} pending jobs due tomorrow"
        )
        start = time.perf_counter()
        fill(args.finished, args.future)
        print(f"  fill total {time.perf_counter() - start:.1f} s")

        print(f"\n== big tables: {args.jobs:,} due no-op jobs, WorkerLoop(concurrency=10)")
        big = drain("big", args.jobs, args.repeat)

        print("\n== big tables, worker statements prepared (OPTIONS prepare_threshold=5)")
        big_prep = drain("big, prepared", args.jobs, args.repeat, PREPARED, plans=False)

        print("\n== pruning")
        prune_phase(args.jobs, args.finished)

        print(f"\n== extra: the {args.future:,} not-yet-due jobs at priority 1, due ones at 0")
        prio = priority_phase(args.jobs)

        print("\n== summary")
        ratio = empty["rate"] / big["rate"]
        print(
            f"  drain, empty: {empty['rate']:.0f} jobs/s "
            f"(runs {', '.join(f'{r:.0f}' for r in empty['runs'])})"
        )
        print(
            f"  drain, big:   {big['rate']:.0f} jobs/s "
            f"(runs {', '.join(f'{r:.0f}' for r in big['runs'])})"
        )
        verdict = "holds" if ratio <= 1.5 else "FAILS"
        print(f"  cost ratio big/empty: {ratio:.2f}x (target <= 1.5x: {verdict})")
        print(
            f"  prepared statements: empty {empty_prep['rate']:.0f}, big {big_prep['rate']:.0f} "
            f"jobs/s, ratio {empty_prep['rate'] / big_prep['rate']:.2f}x"
        )
        print(
            f"  future jobs at a higher priority: {prio['rate']:.0f} jobs/s, "
            f"{empty['rate'] / prio['rate']:.2f}x the empty cost"
        )
        print(f"  wall time {time.perf_counter() - wall:.0f} s")
    finally:
        close_django()
        if not args.keep:
            wait_for_server()
            sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", dbname="postgres")


if __name__ == "__main__":
    main()

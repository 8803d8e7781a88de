"""Benchmark django-jobs beside its peers on one PostgreSQL server, in one run.

    bench/setup.sh                      # once: bench/.venv with django-jobs and the peers
    bench/.venv/bin/python bench/run.py [--quick] [--systems django-jobs,huey] [--sweep]
        [--spacing 0.2-0.6] [--load] [--latency]

Every system gets a fresh database ``bench_<system>`` (``BENCH_DB_PREFIX``
replaces ``bench_``, for runs side by side on one server). Workers run as
subprocesses started after the queue is filled; a drain is timed from their
start until the database shows every job done. See bench/README.md for the
method of each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
RESULTS = HERE / "results"
PY = sys.executable
PG = {
    "host": os.environ.get("BENCH_PGHOST", "127.0.0.1"),
    "port": os.environ.get("BENCH_PGPORT", "5432"),
    "user": os.environ.get("BENCH_PGUSER", "postgres"),
}
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "bench_")
KEEP_TABLES = ("django_migrations", "django_content_type", "auth_permission")


@dataclass
class System:
    name: str
    settings: str | None  # Django settings module, None for huey
    done_sql: str  # how many jobs finished
    left_sql: str = ""  # huey: jobs still queued (done = filled - left)
    worker_args: list[str] = field(default_factory=list)
    one_cluster: bool = False  # django-q2: N worker processes inside one cluster
    drains: tuple[int, ...] = (1, 2)  # worker processes of each drain measured

    @property
    def db(self) -> str:
        return DB_PREFIX + self.name.replace("-", "_").replace(".", "_")

    def worker_commands(self, procs: int, extra: list[str] | None = None) -> list[list[str]]:
        base = [PY, str(PEERS / "manage.py")] if self.settings else []
        cmd = base + self.worker_args + (extra or [])
        return [cmd] if self.one_cluster else [cmd] * procs


SYSTEMS = {
    s.name: s
    for s in [
        System(
            "django-jobs",
            "bench_djjobs.settings",
            "SELECT count(*) FROM django_jobs_job WHERE status = 'completed'",
            worker_args=["runjobs", "--no-sync"],
        ),
        # Django's @task on django-jobs (JobsBackend): enqueue 1 by 1, drained by one runjobs.
        System(
            "django.tasks",
            "bench_djtasks.settings",
            "SELECT count(*) FROM django_jobs_job WHERE status = 'completed'",
            worker_args=["runjobs", "--no-sync"],
            drains=(1,),
        ),
        System(
            "django-tasks-db",
            "bench_tasksdb.settings",
            "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL'",
            worker_args=["db_worker", "--no-startup-delay"],
        ),
        System(
            "django-q2",
            "bench_q2.settings",
            "SELECT count(*) FROM django_q_task WHERE success",
            worker_args=["qcluster"],
            one_cluster=True,
        ),
        System(
            "procrastinate",
            "bench_procrastinate.settings",
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'",
            worker_args=["procrastinate", "worker"],
        ),
        System(
            "huey",
            None,
            "",
            left_sql="SELECT count(*) FROM task",
            worker_args=[str(Path(PY).parent / "huey_consumer"), "bench_huey.app.huey"],
        ),
    ]
}


# Databases -----------------------------------------------------------------------


def pg(db: str = "test", autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(dbname=db, autocommit=autocommit, **PG)


def fresh_database(system: System) -> None:
    with pg() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {system.db} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {system.db}")
    if system.settings:
        run([PY, str(PEERS / "manage.py"), "migrate", "-v0"], env_for(system))
    else:
        client(system, "single", "1", "10")  # SqlHuey creates its tables


def empty_queue(system: System, sqlite_path: str = "") -> None:
    """Delete every job and result, keep the schema; ANALYZE so plans see the new size."""
    if sqlite_path:
        with sqlite3.connect(sqlite_path) as conn:
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'django_jobs_%'"
            ).fetchall():
                conn.execute(f'DELETE FROM "{name}"')
        return
    with pg(system.db) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            if row[0] not in KEEP_TABLES
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        settle(conn)


def analyze(system: System) -> None:
    with pg(system.db) as conn:
        conn.execute("ANALYZE")
        settle(conn)


def settle(conn) -> None:
    """Write out what the last step dirtied, so the next measurement does not pay for it.

    A checkpoint that starts mid-measurement stretches every commit's flush;
    without this, one system's fill or drain taxes whatever is timed next.
    """
    conn.execute("CHECKPOINT")


class Counter:
    """How many of ``filled`` jobs are done, read from the system's database."""

    def __init__(self, system: System, filled: int, sqlite_path: str = "") -> None:
        self.system, self.filled, self.sqlite_path = system, filled, sqlite_path
        if sqlite_path:
            self.conn = sqlite3.connect(sqlite_path, timeout=20)
        else:
            self.conn = pg(system.db)

    def done(self) -> int:
        if self.sqlite_path:
            return self.conn.execute(self.system.done_sql).fetchone()[0]
        if self.system.left_sql:
            return self.filled - self.conn.execute(self.system.left_sql).fetchone()[0]
        return self.conn.execute(self.system.done_sql).fetchone()[0]

    def close(self) -> None:
        self.conn.close()


# Processes -----------------------------------------------------------------------


def env_for(system: System, sqlite_path: str = "", **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BENCH_DB=system.db,
        BENCH_SQLITE=sqlite_path,
        # A PYTHONPATH given to the run (a django-jobs checkout to measure) comes after.
        PYTHONPATH=os.pathsep.join(p for p in (str(PEERS), os.environ.get("PYTHONPATH")) if p),
        PYTHONUNBUFFERED="1",
    )
    if system.settings:
        env["DJANGO_SETTINGS_MODULE"] = system.settings
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, cwd=PEERS, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def client(system: System, op: str, *args: str, sqlite_path: str = "", **extra: str) -> dict:
    env = env_for(system, sqlite_path, **extra)
    out = run([PY, str(PEERS / "client.py"), system.name, op, *args], env)
    return json.loads(out.strip().splitlines()[-1])


class Workers:
    """Worker subprocesses, each in its own session so that stopping reaches its children."""

    def __init__(self, commands: list[list[str]], env: dict[str, str], log: Path) -> None:
        self.log = open(log, "ab")
        self.procs = [
            subprocess.Popen(
                cmd,
                env=env,
                cwd=PEERS,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for cmd in commands
        ]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def peak_rss_mb(self) -> tuple[float, float]:
        """(largest VmHWM of one process, sum over every process) of the workers' trees."""
        peaks = [_vm_hwm(pid) for p in self.procs for pid in _tree(p.pid)]
        peaks = [kb for kb in peaks if kb]
        return (max(peaks, default=0) / 1024, sum(peaks) / 1024)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the workers' process trees so far."""
        return sum(_cpu(pid) for p in self.procs for pid in _tree(p.pid))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.log.close()


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime and stime, fields 14 and 15 of stat (counted from 1, the pid).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# Measurements --------------------------------------------------------------------


@dataclass
class Drain:
    jobs: int
    seconds: float
    complete: bool
    rss_mb: float = 0.0
    rss_tree_mb: float = 0.0
    statements: int | None = None
    transactions: int | None = None
    # When the first jobs were seen done (seconds from the start, how many).
    first: tuple[float, int] | None = None
    cpu: float = 0.0  # CPU seconds of the workers, their start-up included

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def steady_rate(self) -> float | None:
        """The rate once the worker runs, its process start-up left out."""
        if self.first is None or self.seconds <= self.first[0]:
            return None
        return (self.jobs - self.first[1]) / (self.seconds - self.first[0])


def drain(
    system: System,
    jobs: int,
    procs: int,
    *,
    limit: float,
    fill_limit: float,
    extra: list[str] | None = None,
    count_statements: bool = False,
    sqlite_path: str = "",
    singles: bool = False,
    log: Path,
) -> Drain:
    """``singles``: filled by one ``enqueue()`` a job, drained at once (see ``singles_drain``)."""
    empty_queue(system, sqlite_path)
    if singles:  # the client's warm-up job is in the queue too
        one = client(system, "single", str(jobs - 1), str(fill_limit), sqlite_path=sqlite_path)
        filled = one["n"] + 1
    else:
        filled = client(system, "fill", str(jobs), str(fill_limit), sqlite_path=sqlite_path)["n"]
    if not sqlite_path and not singles:
        analyze(system)
    xacts_before = None if sqlite_path else transactions(system)
    counter = Counter(system, filled, sqlite_path)
    start_count = counter.done()
    polls = 1
    stmt_dir = tempfile.mkdtemp(prefix="bench-stmts-")
    env = env_for(system, sqlite_path, BENCH_WORKERS=str(procs))
    if count_statements:
        env.update(BENCH_STMT_DIR=stmt_dir, PYTHONPATH=f"{PEERS / 'stmtcount'}:{PEERS}")
    commands = system.worker_commands(procs, extra)
    start = time.perf_counter()
    workers = Workers(commands, env, log)
    done, poll, first = start_count, 0.2 if sqlite_path else 0.05, None
    try:
        while done - start_count < filled:
            elapsed = time.perf_counter() - start
            if elapsed > limit or not workers.alive():
                break
            time.sleep(poll)
            done = counter.done()
            polls += 1
            if first is None and done > start_count:
                first = (time.perf_counter() - start, done - start_count)
        seconds = time.perf_counter() - start
        cpu = workers.cpu_seconds()
        time.sleep(0.3)  # let the statement counters flush
        rss, rss_tree = workers.peak_rss_mb()
    finally:
        workers.stop()
        counter.close()
    result = Drain(done - start_count, seconds, done - start_count >= filled, rss, rss_tree)
    result.first, result.cpu = first, cpu
    if count_statements:
        result.statements = sum(int(p.read_text() or 0) for p in Path(stmt_dir).iterdir())
    if xacts_before is not None:
        time.sleep(1.2)  # backends flush their statistics at most once a second
        # The driver's own polls are one transaction each (autocommit).
        result.transactions = transactions(system) - xacts_before - polls
    return result


def singles_drain(system: System, opts: argparse.Namespace, log: Path) -> Drain:
    """One process draining, right after ``opts.jobs`` one-at-a-time ``enqueue()`` calls.

    First thing on a fresh database: the table grew from empty and nothing has
    analyzed it, and no ANALYZE or CHECKPOINT runs between the fill and the
    drain; a queue filled by a site's traffic between two autovacuum runs is
    in that state. The other drains are filled in bulk and analyzed.
    """
    return drain(
        system,
        opts.jobs,
        1,
        limit=opts.drain_limit,
        fill_limit=2 * opts.drain_limit,
        singles=True,
        log=log,
    )


def transactions(system: System) -> int:
    """Committed and rolled-back transactions of the system's database so far."""
    with pg(system.db) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [system.db],
        ).fetchone()
    return int(row[0]) - 1  # this query's own transaction


def latency(
    system: System,
    probes: int,
    log: Path,
    spacing: tuple[float, float],
    sqlite_path: str = "",
    in_process: bool = False,
) -> tuple[float, float, int]:
    """Median and p95 ms from the enqueue call to handler start on an idle worker.

    Probes are ``spacing`` (lo, hi) seconds apart, drawn uniformly. The worker
    is a ``runjobs`` process, or with ``in_process`` the in-process runner of
    the enqueuing process (django-jobs' ``AUTO_START`` thread).
    """
    empty_queue(system, sqlite_path)
    started = Path(tempfile.mktemp(prefix="bench-started-"))
    enqueued = Path(tempfile.mktemp(prefix="bench-enqueued-"))
    env = env_for(system, sqlite_path, BENCH_LATENCY_FILE=str(started))
    lo, hi = (str(s) for s in spacing)
    op = "latency-in-process" if in_process else "latency"
    workers = None if in_process else Workers(system.worker_commands(1), env, log)
    try:
        if workers is not None:
            time.sleep(3)  # start-up done, queue empty: the worker is idle
        client(
            system,
            op,
            str(probes),
            str(enqueued),
            lo,
            hi,
            sqlite_path=sqlite_path,
            BENCH_LATENCY_FILE=str(started),
        )
        deadline = time.monotonic() + 20
        while workers is not None and time.monotonic() < deadline:
            if started.exists() and len(started.read_text().splitlines()) >= probes:
                break
            time.sleep(0.1)
    finally:
        if workers is not None:
            workers.stop()
    sent = dict(_stamps(enqueued))
    got = dict(_stamps(started)) if started.exists() else {}
    delays = sorted((got[i] - sent[i]) * 1000 for i in sent if i in got)
    if not delays:
        return (float("nan"), float("nan"), probes)
    p95 = delays[min(len(delays) - 1, round(0.95 * len(delays)) - 1)]
    return (statistics.median(delays), p95, probes - len(delays))


def _stamps(path: Path) -> list[tuple[int, float]]:
    pairs = []
    for line in path.read_text().splitlines():
        i, t = line.split()
        pairs.append((int(i), float(t)))
    return pairs


# A worker of short jobs at the default concurrency (10) holds 60 and claims
# again once half of them are done: about 30 a round trip.
CEILING_BATCH = 30
CEILING = f"raw SQL ceiling (psycopg loop, batch {CEILING_BATCH})"


def raw_ceiling(jobs: int, batch: int) -> float:
    """Jobs/s of django-jobs' worker statement from a bare psycopg loop: no Django, no pool.

    The statement mirrors django_jobs/engines/postgresql.py (finish_and_claim): one autocommitted
    round trip writes the previous batch's outcomes (lock what the worker
    holds, update jobs and history) and claims the next (locking pick,
    UPDATE ... RETURNING, history INSERT), prepared once, rows in binary.
    """
    system = SYSTEMS["django-jobs"]
    empty_queue(system)
    client(system, "fill", str(jobs), "60")
    analyze(system)
    with pg(system.db) as conn:
        worker_id = conn.execute(
            "INSERT INTO django_jobs_worker (name, hostname, pid, queues, concurrency,"
            " started_at, last_heartbeat) VALUES ('raw', 'raw', 1, '', %s, now(), now())"
            " RETURNING id",
            [batch],
        ).fetchone()[0]
        total, start = 0, time.perf_counter()
        ids: list[int] = []
        history: list[int] = []
        with conn.cursor() as cur:
            while True:
                cur.execute(
                    CYCLE_SQL,
                    [ids, history, worker_id, batch, batch, worker_id],
                    prepare=True,
                    binary=True,
                )
                claimed = [row for row in cur.fetchall() if row[1] is not None]
                total += len(ids)
                if not claimed:
                    break
                ids = [row[1] for row in claimed]
                history = [row[-1] for row in claimed]
        seconds = time.perf_counter() - start
    return total / seconds


CYCLE_SQL = """
WITH RECURSIVE v (id, hid) AS (SELECT * FROM unnest(%b::bigint[], %b::bigint[])),
owned AS MATERIALIZED (
    SELECT j.id, j.cancel_requested FROM django_jobs_job j JOIN v ON v.id = j.id
    WHERE j.worker_id = %b AND j.status = 'running' AND NOT j.has_dependents FOR UPDATE OF j
), done AS (
    UPDATE django_jobs_job j
    SET status = CASE WHEN o.cancel_requested THEN 'cancelled' ELSE 'completed' END,
        next_run_at = NULL, last_error = '', consecutive_failures = 0,
        cancel_requested = false, worker_id = NULL, started_at = NULL, updated_at = now()
    FROM v JOIN owned o ON o.id = v.id WHERE j.id = v.id
    RETURNING j.id, o.cancel_requested
), done_history AS (
    UPDATE django_jobs_jobhistory h SET status = 'completed', completed_at = now(),
        error = '', result = 'null'::jsonb, duration = 0
    FROM v JOIN done d ON d.id = v.id WHERE h.id = v.hid AND h.id = ANY(ARRAY(SELECT hid FROM v))
), levels (p) AS (
    (SELECT priority FROM django_jobs_job WHERE status = 'pending' AND "limit" = ''
     ORDER BY priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT priority FROM django_jobs_job WHERE status = 'pending' AND "limit" = ''
            AND priority < levels.p ORDER BY priority DESC LIMIT 1)
    FROM levels WHERE levels.p IS NOT NULL
), picked AS MATERIALIZED (
    SELECT due.id FROM levels CROSS JOIN LATERAL (
        SELECT id FROM django_jobs_job WHERE status = 'pending' AND "limit" = ''
            AND priority = levels.p AND next_run_at <= now() AND NOT paused
        ORDER BY next_run_at, id LIMIT %b FOR UPDATE SKIP LOCKED
    ) AS due LIMIT %b
), claimed AS (
    UPDATE django_jobs_job j SET status = 'running', worker_id = %b, attempts = attempts + 1,
        started_at = now(), progress = NULL, progress_message = '', progress_at = NULL,
        last_run_at = now(), updated_at = now()
    FROM picked WHERE j.id = picked.id AND j.status = 'pending'
    RETURNING j.*
), hist AS (
    INSERT INTO django_jobs_jobhistory
        (job_id, status, attempt, scheduled_for, worker, started_at, error)
    SELECT id, 'running', attempts, scheduled_for, 'raw', now(), '' FROM claimed
    RETURNING id, job_id
), outcome AS (
    SELECT coalesce(json_agg(json_build_array(id, cancel_requested)), '[]'::json)::text
        AS written
    FROM done
)
SELECT outcome.written, batch.* FROM outcome
LEFT JOIN (SELECT claimed.*, hist.id FROM claimed LEFT JOIN hist ON hist.job_id = claimed.id)
    AS batch ON true
"""


# The run --------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    single: float | None = None
    bulk: float | None = None
    drain1: Drain | None = None
    drain2: Drain | None = None
    drain_singles: Drain | None = None  # 1 process, right after a one-at-a-time fill
    p50: float | None = None
    p95: float | None = None
    stmts: float | None = None
    xacts: float | None = None
    rss: float | None = None
    steady: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str = ""


def measure(system: System, opts: argparse.Namespace, log: Path) -> Row:
    row = Row(system.name)
    fresh_database(system)
    row.drain_singles = singles_drain(system, opts, log)
    if not row.drain_singles.complete:
        row.notes.append(f"after a 1-by-1 fill: {row.drain_singles.jobs:,} jobs done in the limit")
    # Enqueue 1 by 1 is measured later for every system in interleaved rounds
    # (``interleaved_enqueues``): the host's speed drifts more between two systems'
    # turns than the systems differ.
    empty_queue(system)
    bulk = client(system, "bulk", str(opts.jobs))
    row.bulk = None if bulk.get("na") else bulk["n"] / bulk["seconds"]
    for procs in system.drains:
        result = drain(
            system,
            opts.jobs,
            procs,
            limit=opts.drain_limit,
            fill_limit=opts.fill_limit,
            count_statements=procs == 1,
            log=log,
        )
        if procs == 1:
            row.drain1 = result
            row.rss = result.rss_mb
            if result.statements is not None and result.jobs:
                row.stmts = result.statements / result.jobs
            if result.transactions is not None and result.jobs:
                row.xacts = result.transactions / result.jobs
            steady = result.steady_rate
            if steady is not None and system.name == "django-jobs":
                row.notes.append(
                    f"1 proc, from its first finished job (start-up left out, as in the"
                    f" ceiling): {steady:,.0f} jobs/s"
                )
                row.steady = steady
            if result.rss_tree_mb > result.rss_mb * 1.2:
                row.notes.append(f"RSS of its process tree: {result.rss_tree_mb:.0f} MB")
        else:
            row.drain2 = result
        if not result.complete:
            row.notes.append(
                f"{procs} proc: {result.jobs:,} jobs done in the {opts.drain_limit:.0f} s limit"
            )
    _latency_of(row, system, opts, log)
    return row


def _latency_of(
    row: Row,
    system: System,
    opts: argparse.Namespace,
    log: Path,
    sqlite_path: str = "",
    in_process: bool = False,
) -> Row:
    row.p50, row.p95, missing = latency(
        system, opts.probes, log, opts.spacing, sqlite_path, in_process
    )
    if missing:
        row.notes.append(f"latency: {missing} of {opts.probes} probes not started in time")
    return row


def latency_row(system: System, opts: argparse.Namespace, log: Path) -> Row:
    """``--latency``: only the enqueue-to-start figures (the database made afresh)."""
    fresh_database(system)
    return _latency_of(Row(system.name), system, opts, log)


def sqlite_latency_rows(opts: argparse.Namespace, log: Path) -> list[Row]:
    """django-jobs on SQLite: a ``runjobs`` process woken from another process, and in-process."""
    system = SYSTEMS["django-jobs"]
    path = _fresh_sqlite(system)
    between = _latency_of(Row("django-jobs on SQLite, latency"), system, opts, log, path)
    inside = Row("django-jobs on SQLite, in-process runner")
    return [between, _latency_of(inside, system, opts, log, path, in_process=True)]


def _spacing(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(part) for part in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LO-HI, e.g. 0.2-0.6") from None
    if not 0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: want 0 <= LO <= HI")
    return lo, hi


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return number


class Load:
    """``--load``: a CPU hog beside the run, in its own session, stopped whatever happens."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PY, "-c", "while True: pass"], start_new_session=True, stdout=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--quick", action="store_true", help="fewer jobs, a rough picture")
    parser.add_argument("--sweep", action="store_true", help="also try runjobs settings")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny counts: does each row run?")
    parser.add_argument(
        "--graphs", action="store_true", help="only django-jobs' dependency graphs (fan-in, chain)"
    )
    parser.add_argument(
        "--limits", action="store_true", help="only django-jobs' drains under limits"
    )
    parser.add_argument(
        "--spacing",
        type=_spacing,
        default=(0.020, 0.050),
        metavar="LO-HI",
        help="seconds between latency probes, drawn uniformly (default 0.02-0.05; sparse: 0.2-0.6)",
    )
    parser.add_argument(
        "--load", action="store_true", help="run a CPU hog process beside the whole run"
    )
    parser.add_argument(
        "--latency",
        action="store_true",
        help="only the latency rows: each system, django-jobs on SQLite (processes, in-process)",
    )
    parser.add_argument(
        "--pair",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only django.tasks beside django-jobs' own API (and django-tasks-db), interleaved",
    )
    parser.add_argument(
        "--probes", type=_positive, default=0, metavar="N", help="latency probes (default 200)"
    )
    opts = parser.parse_args()
    opts.jobs = 4_000 if opts.quick else 20_000
    opts.enqueue = 500 if opts.quick else 2_000
    opts.probes = opts.probes or (50 if opts.quick else 200)
    opts.enqueue_rounds = 1 if opts.quick else 3
    opts.drain_limit = 15.0 if opts.quick else 30.0
    opts.fill_limit = 8.0 if opts.quick else 15.0
    if opts.smoke:
        opts.jobs, opts.enqueue, opts.probes, opts.drain_limit, opts.fill_limit = 200, 50, 5, 15, 5
    names = [n.strip() for n in opts.systems.split(",") if n.strip()]
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    load = Load() if opts.load else None
    try:
        run_all(opts, names)
    finally:
        if load is not None:
            load.stop()


def run_all(opts: argparse.Namespace, names: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / "workers.log"
    log.write_bytes(b"")
    if opts.graphs:
        text = "\n".join(graphs(opts, log))
        print("\n" + text)
        (RESULTS / "graphs.md").write_text(machine() + "\n" + text)
        return
    if opts.limits:
        text = "\n".join(limit_drains(opts, log))
        print("\n" + text)
        (RESULTS / "limits.md").write_text(machine() + "\n" + text)
        return
    if opts.pair:
        text = paired(names, opts, log)
        print("\n" + text)
        (RESULTS / "pair.md").write_text(machine() + "\n" + text)
        return
    rows, extra_lines = [], []
    steps = []
    for name in names:
        if opts.latency:
            steps.append((name, lambda name=name: [latency_row(SYSTEMS[name], opts, log)]))
            continue
        steps.append((name, lambda name=name: [measure(SYSTEMS[name], opts, log)]))
        # Right after django-jobs' own drains, so both see the machine in the same state.
        if name == "django-jobs" and not opts.no_ceiling:
            steps.append((CEILING, lambda: [ceiling_row(opts)]))
    if "django-jobs" in names and not opts.no_sqlite:
        if not opts.latency:
            steps.append(("django-jobs on SQLite", lambda: [sqlite_row(opts, log)]))
        steps.append(("django-jobs on SQLite, latency", lambda: sqlite_latency_rows(opts, log)))
    for label, make in steps:
        print(f"... {label}", flush=True)
        try:
            rows.extend(make())
        except Exception as exc:
            rows.append(Row(label, error=f"not measured: {str(exc).splitlines()[0][:150]}"))
            print(f"    {label} failed: {exc}", file=sys.stderr, flush=True)
        (RESULTS / "latest.md").write_text(machine() + "\n" + render(rows, opts))
    if not opts.latency:
        print("... enqueue 1 by 1, systems interleaved", flush=True)
        try:
            interleaved_enqueues(rows, opts)
        except Exception as exc:
            print(f"    enqueue 1 by 1 failed: {exc}", file=sys.stderr, flush=True)
    if opts.sweep and "django-jobs" in names:
        print("... runjobs settings sweep", flush=True)
        try:
            extra_lines = sweep(opts, log)
        except Exception as exc:
            extra_lines = ["", f"sweep failed: {exc}"]
    text = render(rows, opts) + "\n".join(extra_lines)
    print("\n" + text)
    (RESULTS / "latest.md").write_text(machine() + "\n" + text)


PAIRED = ("django-jobs", "django.tasks", "django-tasks-db")


def paired(names: list[str], opts: argparse.Namespace, log: Path) -> str:
    """django.tasks beside django-jobs' own API, their steps interleaved so both see one load.

    Each round enqueues one at a time with every system, then drains with one
    process each, in the order A B C then C B A the next round (the host's load
    drifts); the table gives each round and the median. django-tasks-db, when
    named, runs in the same rounds.
    """
    systems = [SYSTEMS[n] for n in PAIRED if n in names]
    if [s.name for s in systems[:2]] != ["django-jobs", "django.tasks"]:
        raise SystemExit("--pair needs django-jobs and django.tasks in --systems")
    for system in systems:
        print(f"... {system.name}: fresh database", flush=True)
        fresh_database(system)
    single: dict[str, list[float]] = {s.name: [] for s in systems}
    cpu: dict[str, list[float]] = {s.name: [] for s in systems}
    drains: dict[str, list[Drain]] = {s.name: [] for s in systems}
    for round_no in range(opts.pair):
        order = systems if round_no % 2 == 0 else systems[::-1]
        for system in order:
            print(f"... round {round_no + 1}: {system.name} enqueue 1 by 1", flush=True)
            empty_queue(system)
            one = client(system, "single", str(opts.enqueue), str(opts.fill_limit))
            single[system.name].append(one["n"] / one["seconds"])
            cpu[system.name].append(one["cpu"] / one["n"] * 1e6)
        for system in order:
            print(f"... round {round_no + 1}: {system.name} drain, 1 process", flush=True)
            drains[system.name].append(
                drain(
                    system,
                    opts.jobs,
                    1,
                    limit=opts.drain_limit,
                    fill_limit=opts.fill_limit,
                    log=log,
                )
            )
    ours = "django-jobs"
    lines = [
        "| system | round | enqueue 1 by 1 (jobs/s) | enqueue CPU (us/job) |"
        " drain, 1 process (jobs/s) | drain CPU (us/job) | drained |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for system in systems:
        name = system.name
        for i in range(opts.pair):
            d = drains[name][i]
            lines.append(
                f"| {name} | {i + 1} | {single[name][i]:,.0f} | {cpu[name][i]:,.0f} |"
                f" {d.rate:,.0f} | {_per_job(d):,.0f} |"
                f" {d.jobs:,}{'' if d.complete else ' (time limit)'} |"
            )
        lines.append(
            f"| {name} | median | {statistics.median(single[name]):,.0f} |"
            f" {statistics.median(cpu[name]):,.0f} |"
            f" {statistics.median(d.rate for d in drains[name]):,.0f} |"
            f" {statistics.median(_per_job(d) for d in drains[name]):,.0f} | |"
        )
    lines.append("")
    for name in [s.name for s in systems if s.name != ours]:
        ratios = {
            "enqueue 1 by 1": [single[name][i] / single[ours][i] for i in range(opts.pair)],
            "drain": [drains[name][i].rate / drains[ours][i].rate for i in range(opts.pair)],
            "CPU per enqueue": [cpu[ours][i] / cpu[name][i] for i in range(opts.pair)],
            "worker CPU per job": [
                _per_job(drains[ours][i]) / _per_job(drains[name][i]) for i in range(opts.pair)
            ],
        }
        lines.append(
            f"- {name} / django-jobs' own API, round by round (higher is better; CPU as"
            " ours / theirs): "
            + "; ".join(
                f"{label} {', '.join(f'{r:.2f}' for r in values)}"
                f" (median {statistics.median(values):.2f})"
                for label, values in ratios.items()
            )
        )
    lines.append(
        f"- {opts.pair} rounds; enqueue 1 by 1: {opts.enqueue:,} jobs (at most"
        f" {opts.fill_limit:.0f} s); drains: {opts.jobs:,} no-op jobs (at most"
        f" {opts.drain_limit:.0f} s); worker CPU is its processes' user + system time,"
        " start-up included. django.tasks' drain queue holds the rows its"
        " `enqueue()` writes, put in by `enqueue_many()`; django-tasks-db's is filled one"
        " at a time for at most the fill limit."
    )
    return "\n".join(lines) + "\n"


def interleaved_enqueues(rows: list[Row], opts: argparse.Namespace) -> None:
    """Each measured system's enqueue 1 by 1: the median of rounds taken in turn.

    One round enqueues ``opts.enqueue`` jobs with every system, A to Z, the
    next Z to A, so that none always goes first after another's drain; each
    system's database still holds its schema from ``measure``.
    """
    measured = [r for r in rows if r.name in SYSTEMS and not r.error]
    rates: dict[str, list[float]] = {r.name: [] for r in measured}
    for round_no in range(opts.enqueue_rounds):
        order = measured if round_no % 2 == 0 else measured[::-1]
        for row in order:
            system = SYSTEMS[row.name]
            empty_queue(system)
            one = client(system, "single", str(opts.enqueue), str(opts.fill_limit))
            rates[row.name].append(one["n"] / one["seconds"])
    for row in measured:
        row.single = statistics.median(rates[row.name])
        if len(rates[row.name]) > 1:
            row.notes.append(
                "enqueue 1 by 1, round by round: "
                + ", ".join(f"{rate:,.0f}" for rate in rates[row.name])
            )


def _per_job(d: Drain) -> float:
    """Worker CPU microseconds per job done (start-up included)."""
    return d.cpu / d.jobs * 1e6 if d.jobs else float("nan")


GRAPHS = (
    ("fanin", 10_000, "fan-in: 10,000 jobs, then one that waits for all"),
    ("chain", 1_000, "chain: 1,000 jobs, each waiting for the one before"),
)


class GraphSystem(System):
    """django-jobs in a database of its own, so a drain's database is left alone."""

    @property
    def db(self) -> str:
        return "bench_djjobs_graphs"


def graphs(opts: argparse.Namespace, log: Path) -> list[str]:
    """Dependency graphs made by one enqueue_many, run by 1 and 2 worker processes.

    Timed from the workers' start until every job completed (the last one
    runs only after all it waits for), start-up included as in the drains.
    """
    system = GraphSystem(**{**SYSTEMS["django-jobs"].__dict__})
    fresh_database(system)
    lines = [
        "| graph | enqueue_many | procs | run | jobs/s |",
        "|---|---:|---:|---:|---:|",
    ]
    scale = 10 if opts.smoke else 1
    for shape, n, label in GRAPHS:
        for procs in (1, 2):
            empty_queue(system)
            made = client(system, "graph", shape, str(n // scale))
            analyze(system)
            counter = Counter(system, made["n"])
            start = time.perf_counter()
            workers = Workers(system.worker_commands(procs), env_for(system), log)
            try:
                while counter.done() < made["n"] and time.perf_counter() - start < 300:
                    if not workers.alive():
                        break
                    time.sleep(0.02)
                seconds = time.perf_counter() - start
                done = counter.done()
            finally:
                workers.stop()
                counter.close()
            ran = f"{seconds:.2f} s" if done >= made["n"] else f"{done} of {made['n']} done"
            lines.append(
                f"| {label} | {made['seconds']:.2f} s | {procs} | {ran} | {done / seconds:,.0f} |"
            )
            print("   ", lines[-1], flush=True)
    return lines


class LimitSystem(System):
    """django-jobs in a database of its own for the limits drains."""

    @property
    def db(self) -> str:
        return DB_PREFIX + "djjobs_limits"


BENCH_LIMITS = {"pair": {"concurrency": 2}, "rate": {"rate": "200/s"}}
LIMIT_DRAINS = (
    ("plain", "no limits configured", False),
    ("plain", "no jobs limited, LIMITS set", True),
    ("mixed", "half under concurrency 2, half unlimited", True),
    ("rate", "all under a rate of 200/s", True),
)


def limit_drains(opts: argparse.Namespace, log: Path) -> list[str]:
    """Drains of noop jobs by 2 worker processes under limits.

    The mixed drain reports when its unlimited half was done: compared with
    the plain drain of as many jobs, that is whether limited jobs held the
    others back. The rate drain reports the starts per second its history
    shows between the first start and the last.
    """
    system = LimitSystem(**{**SYSTEMS["django-jobs"].__dict__})
    fresh_database(system)
    n = 200 if opts.smoke else (2_000 if opts.quick else 20_000)
    lines = [
        "| drain (2 procs) | jobs | unlimited done in | unlimited jobs/s"
        " | unlimited jobs/s from their first start | all done in | limited jobs/s | starts/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, label, with_limits in LIMIT_DRAINS:
        jobs = n // 4 if kind == "rate" else (n // 2 if kind == "plain" else n)
        empty_queue(system)
        extra = {"BENCH_LIMITS": json.dumps(BENCH_LIMITS)} if with_limits else {}
        made = client(system, "limited", kind, str(jobs), **extra)
        analyze(system)
        conn = pg(system.db)
        count = (
            "SELECT count(*) FILTER (WHERE status = 'completed' AND \"limit\" = ''), "
            "count(*) FILTER (WHERE status = 'completed') FROM django_jobs_job"
        )
        free_total = conn.execute("SELECT count(*) FROM django_jobs_job WHERE \"limit\" = ''")
        free_total = free_total.fetchone()[0]
        start = time.perf_counter()
        workers = Workers(system.worker_commands(2), env_for(system, **extra), log)
        free_at = None
        try:
            while time.perf_counter() - start < 60 and workers.alive():
                free, done = conn.execute(count).fetchone()
                if free_at is None and free >= free_total:
                    free_at = time.perf_counter() - start
                if done >= made["n"]:
                    break
                time.sleep(0.02)
            seconds = time.perf_counter() - start
            free, done = conn.execute(count).fetchone()
        finally:
            workers.stop()
        starts = [
            row[0].timestamp()
            for row in conn.execute(
                "SELECT h.started_at FROM django_jobs_jobhistory h "
                "JOIN django_jobs_job j ON j.id = h.job_id WHERE j.\"limit\" = 'rate' "
                "ORDER BY h.started_at"
            ).fetchall()
        ]
        # The unlimited jobs' own pace, from their first start to their last
        # completion: the workers' start-up (half of a drain this short) left out.
        first, last, ran = conn.execute(
            "SELECT min(h.started_at), max(h.completed_at), count(*) FROM django_jobs_jobhistory h "
            "JOIN django_jobs_job j ON j.id = h.job_id WHERE j.\"limit\" = '' "
            "AND h.completed_at IS NOT NULL"
        ).fetchone()
        conn.close()
        steady = "&ndash;"
        if ran > 1 and last > first:
            steady = f"{(ran - 1) / (last - first).total_seconds():,.0f}"
        rate = "&ndash;"
        if len(starts) > 1:
            # Starts per second over the drain (a burst of one window, then one a window
            # each second), and the most in any one-second window.
            spread = starts[-1] - starts[0] + 1.0
            rate = f"{len(starts) / spread:,.0f} (at most {_most_in(starts, 1.0)} in 1 s)"
        all_in = f"{seconds:.2f} s" if done >= made["n"] else f"{done:,} done in {seconds:.0f} s"
        limited = f"{(done - free) / seconds:,.0f}" if done > free else "&ndash;"
        free_rate = free_in = "&ndash;"
        if free_at and free_total > 1:
            free_rate, free_in = f"{(free_total - 1) / free_at:,.0f}", f"{free_at:.2f} s"
        lines.append(
            f"| {label} | {made['n'] - 1:,} | {free_in} | {free_rate} | {steady} | {all_in} "
            f"| {limited} | {rate} |"
        )
        print("   ", lines[-1], flush=True)
    return lines


def _most_in(instants: list[float], seconds: float) -> int:
    """The most of the sorted ``instants`` inside any half-open window of ``seconds``."""
    most, first = 0, 0
    for last, at in enumerate(instants):
        while at - instants[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def ceiling_row(opts: argparse.Namespace) -> Row:
    row = Row(CEILING)
    row.drain1 = Drain(opts.jobs, opts.jobs / raw_ceiling(opts.jobs, CEILING_BATCH), True)
    return row


def _fresh_sqlite(system: System) -> str:
    path = str(RESULTS / "bench.sqlite3")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(path + suffix).unlink(missing_ok=True)
    run([PY, str(PEERS / "manage.py"), "migrate", "-v0"], env_for(system, path))
    return path


def sqlite_enqueues(system: System, opts: argparse.Namespace, path: str) -> str:
    """Enqueue 1 by 1 on SQLite, django-jobs beside huey's own SQLite storage: a note.

    django-jobs as the README recommends (WAL, ``synchronous=NORMAL``), huey's
    ``SqliteHuey`` at its defaults (WAL), each in a fresh file of this directory.
    """
    ours = client(system, "single", str(opts.enqueue), str(opts.fill_limit), sqlite_path=path)
    theirs_path = str(RESULTS / "bench-huey.sqlite3")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(theirs_path + suffix).unlink(missing_ok=True)
    args = (str(opts.enqueue), str(opts.fill_limit))
    theirs = client(SYSTEMS["huey"], "single", *args, sqlite_path=theirs_path)
    rate, peer = ours["n"] / ours["seconds"], theirs["n"] / theirs["seconds"]
    return (
        f"enqueue 1 by 1 on SQLite: {rate:,.0f} jobs/s ({1e6 * ours['cpu'] / ours['n']:.0f} us"
        f" CPU a job), huey's SqliteHuey {peer:,.0f} ({1e6 * theirs['cpu'] / theirs['n']:.0f} us):"
        f" {rate / peer:.2f}x"
    )


def sqlite_row(opts: argparse.Namespace, log: Path) -> Row:
    system = SYSTEMS["django-jobs"]
    path = _fresh_sqlite(system)
    row = Row("django-jobs on SQLite")
    row.notes.append(sqlite_enqueues(system, opts, path))
    row.drain1 = drain(
        system,
        opts.jobs,
        1,
        limit=opts.drain_limit,
        fill_limit=opts.fill_limit,
        sqlite_path=path,
        log=log,
    )
    return row


def sweep(opts: argparse.Namespace, log: Path) -> list[str]:
    system = SYSTEMS["django-jobs"]
    configs = [
        ["--concurrency", "4"],
        ["-v0", "--concurrency", "4"],
        ["-v0", "--concurrency", "16"],
        ["-v0", "--concurrency", "32"],
        ["-v0", "--concurrency", "64"],
        ["-v0", "--concurrency", "128"],
    ]
    lines = ["", "## runjobs settings (django-jobs, PostgreSQL, jobs/s)", ""]
    lines += ["| options | 1 process | 2 processes |", "| --- | ---: | ---: |"]
    for extra in configs:
        rates = []
        for procs in (1, 2):
            result = drain(
                system,
                opts.jobs,
                procs,
                limit=opts.drain_limit,
                fill_limit=opts.fill_limit,
                extra=extra,
                log=log,
            )
            rates.append(f"{result.rate:,.0f}" + ("" if result.complete else " (partial)"))
        lines.append(f"| `{' '.join(extra) or '(defaults)'}` | {rates[0]} | {rates[1]} |")
        print(lines[-1], flush=True)
    for batch in (16, 64):
        rate = raw_ceiling(opts.jobs, batch)
        lines.append(f"| raw SQL ceiling, batch {batch} | {rate:,.0f} | |")
    return lines


# Output ----------------------------------------------------------------------------

COLUMNS = [
    # header, attribute, higher is better, format
    ("enqueue 1 by 1 (jobs/s)", "single", True, "{:,.0f}"),
    ("enqueue bulk (jobs/s)", "bulk", True, "{:,.0f}"),
    ("drain, 1 process (jobs/s)", "rate1", True, "{:,.0f}"),
    ("drain after 1-by-1 fill, 1 process (jobs/s)", "rate_singles", True, "{:,.0f}"),
    ("drain, 2 processes (jobs/s)", "rate2", True, "{:,.0f}"),
    ("latency p50 (ms)", "p50", False, "{:,.1f}"),
    ("latency p95 (ms)", "p95", False, "{:,.1f}"),
    ("worker peak RSS (MB)", "rss", False, "{:,.0f}"),
    ("SQL statements per job", "stmts", False, "{:,.2f}"),
    ("transactions per job", "xacts", False, "{:,.2f}"),
]


def _value(row: Row, attr: str) -> float | None:
    if attr == "rate1":
        return row.drain1.rate if row.drain1 else None
    if attr == "rate2":
        return row.drain2.rate if row.drain2 else None
    if attr == "rate_singles":
        return row.drain_singles.rate if row.drain_singles else None
    return getattr(row, attr)


def render(rows: list[Row], opts: argparse.Namespace) -> str:
    ours_names = ("django-jobs", "django.tasks")
    peers = [r for r in rows if r.name in SYSTEMS and r.name not in ours_names and not r.error]
    best = {}
    for _, attr, higher, _ in COLUMNS:
        values = [v for r in peers if (v := _value(r, attr)) is not None and v == v]
        if values:
            best[attr] = max(values) if higher else min(values)
    lines = [
        "| system | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "| --- | " + " | ".join("---:" for _ in COLUMNS) + " |",
    ]
    notes = []
    for row in rows:
        if row.error:
            lines.append(f"| {row.name} | {row.error} |" + " |" * (len(COLUMNS) - 1))
            continue
        cells = []
        for _, attr, _, fmt in COLUMNS:
            value = _value(row, attr)
            if value is None or value != value:
                cells.append("n/a" if attr == "bulk" and row.name in SYSTEMS else "")
                continue
            cell = fmt.format(value)
            if best.get(attr):
                cell += f" ({value / best[attr]:.2g}x)"
            cells.append(cell)
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
        notes += [f"- {row.name}: {note}" for note in row.notes]
    ours = next((r for r in rows if r.name == "django-jobs" and r.drain1), None)
    ceiling = next((r for r in rows if r.name == CEILING and r.drain1), None)
    if ours and ceiling and ceiling.drain1.rate:
        top = ceiling.drain1.rate
        notes.append(
            f"- django-jobs, 1 process, against the raw SQL ceiling: {ours.drain1.rate / top:.2f}"
            + (f" ({ours.steady / top:.2f} from its first finished job)" if ours.steady else "")
        )
    if ours and ours.drain_singles and ours.drain1.rate:
        notes.append(
            "- django-jobs, 1 process, drained after a 1-by-1 fill (no ANALYZE) against"
            f" bulk-filled and analyzed: {ours.drain_singles.rate / ours.drain1.rate:.2f}"
        )
    tasks_row = next((r for r in rows if r.name == "django.tasks" and r.drain1), None)
    if ours and tasks_row and ours.single and tasks_row.single and ours.drain1.rate:
        notes.append(
            f"- django.tasks against django-jobs' own API: enqueue 1 by 1"
            f" {tasks_row.single / ours.single:.2f}, drain (1 process)"
            f" {tasks_row.drain1.rate / ours.drain1.rate:.2f} (`--pair` interleaves them)"
        )
    lines += [
        "",
        f"Jobs per drain: {opts.jobs:,} no-op jobs; enqueue 1 by 1: {opts.enqueue:,} jobs"
        f" (median of {opts.enqueue_rounds} rounds, the systems in turn);"
        f" latency: {opts.probes} probes {opts.spacing[0]:g}-{opts.spacing[1]:g} s apart"
        f"{', a CPU hog running beside the run' if opts.load else ''}."
        " (x) = value / best peer's value in that column"
        " (rates: higher is better; latency, memory, statements: lower is better).",
        *notes,
    ]
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")[1]
    try:
        with pg() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        version = "(server unreachable when the table was written)"
    return (
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"
        f"- CPU: {cpu}, nproc {os.cpu_count()}\n"
        f"- memory (free -h total): {mem.split()[1]}\n"
        f"- PostgreSQL {version} on {PG['host']}; Python {platform.python_version()}\n"
    )


if __name__ == "__main__":
    main()

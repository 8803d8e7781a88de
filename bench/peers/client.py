"""Enqueue side of the benchmark: ``python client.py <system> <op> ...`` prints JSON.

Ops:
  single N LIMIT   enqueue up to N jobs one at a time, stopping after LIMIT seconds
  bulk N           enqueue N jobs through the system's bulk API (or report n/a)
  fill N LIMIT     put N jobs in the queue the fastest way the system offers
  latency N FILE LO HI   enqueue N probes LO-HI s apart; FILE gets "i time" per enqueue
  latency-in-process N FILE LO HI   the same, run by this process's in-process worker
  graph SHAPE N    django-jobs: one enqueue_many of a fan-in of N jobs into one, or a chain of N
  limited KIND N   django-jobs: N jobs, plain, half under the limit "pair", or all under "rate"
"""

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS = {
    "django-jobs": "bench_djjobs.settings",
    "django-tasks-db": "bench_tasksdb.settings",
    "django.tasks": "bench_djtasks.settings",
    "django-q2": "bench_q2.settings",
    "procrastinate": "bench_procrastinate.settings",
}


def setup(system: str):
    """Configure the system; return (enqueue_one(i), enqueue_bulk(n) or None)."""
    if system in SETTINGS:
        os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS[system]
        import django

        django.setup()
    if system == "django-jobs":
        from django_jobs import enqueue, enqueue_many

        def bulk(n):
            enqueue_many([{} for _ in range(n)], handler="noop")

        return (lambda i=None: enqueue("noop", None if i is None else {"i": i})), bulk
    if system == "django-tasks-db":
        from bench_tasksdb.tasks import noop

        return (lambda i=None: noop.enqueue(i)), None
    if system == "django.tasks":  # @task on django-jobs' backend
        from bench_djtasks.tasks import noop

        return (lambda i=None: noop.enqueue(i)), None
    if system == "django-q2":
        from django_q.tasks import async_task

        return (lambda i=None: async_task("bench_q2.tasks.noop", i)), None
    if system == "procrastinate":
        from bench_procrastinate.tasks import noop

        def bulk(n):
            noop.batch_defer(*({} for _ in range(n)))

        return (lambda i=None: noop.defer(i=i)), bulk
    if system == "huey":
        from bench_huey.app import noop

        return (lambda i=None: noop(i)), None
    raise SystemExit(f"unknown system {system}")


def _fill_tasks(n):
    """The rows ``noop.enqueue()`` writes, n at a time: a drain of @task jobs as big as the others.

    Django's API has no bulk enqueue, so "bulk" stays n/a for django.tasks.
    """
    from django_jobs import enqueue_many

    data = {"args": [None], "kwargs": {}, "backend": "default"}
    enqueue_many([{"data": data} for _ in range(n)], handler="bench_djtasks.tasks.noop")


FILLERS = {"django.tasks": _fill_tasks}


def main(system: str, op: str, *args: str) -> dict:
    one, bulk = setup(system)
    one()  # connect and warm up outside the timing
    if op == "single":
        n, limit = int(args[0]), float(args[1])
        return _singles(one, n, limit)
    if op == "bulk":
        n = int(args[0])
        if bulk is None:
            return {"n": 0, "seconds": 0.0, "na": True}
        start = time.perf_counter()
        for chunk in range(0, n, 10_000):
            bulk(min(10_000, n - chunk))
        return {"n": n, "seconds": time.perf_counter() - start}
    if op == "fill":  # "n" counts the warm-up job too: it is in the queue
        n, limit = int(args[0]), float(args[1])
        bulk = FILLERS[system] if system in FILLERS else bulk
        if bulk is None:
            filled = _singles(one, n - 1, limit)
        else:
            start = time.perf_counter()
            for chunk in range(0, n - 1, 10_000):
                bulk(min(10_000, n - 1 - chunk))
            filled = {"n": n - 1, "seconds": time.perf_counter() - start}
        return {**filled, "n": filled["n"] + 1}
    if op == "graph":
        return _graph(args[0], int(args[1]))
    if op == "limited":
        return _limited(args[0], int(args[1]))
    if op in ("latency", "latency-in-process"):
        n, path = int(args[0]), args[1]
        lo, hi = (float(a) for a in args[2:4]) if len(args) >= 4 else (0.020, 0.050)
        runner = _in_process_runner() if op == "latency-in-process" else None
        stamps = []
        for i in range(n):
            time.sleep(random.uniform(lo, hi))
            stamps.append((i, time.time()))
            one(i)
        Path(path).write_text("".join(f"{i} {t!r}\n" for i, t in stamps))
        if runner is not None:
            _wait_started(n)
            runner.stop()
        return {"n": n}
    raise SystemExit(f"unknown op {op}")


def _in_process_runner():
    """django-jobs' in-process worker (``AUTO_START``'s thread), idle when this returns."""
    from django_jobs import autostart
    from django_jobs.models import Worker

    runner = autostart.start()
    deadline = time.monotonic() + 30
    while not Worker.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # past the warm-up job and its first empty claims
    return runner


def _wait_started(n: int, limit: float = 20.0) -> None:
    """Until the handlers of the n probes started (the file the bench reads has n lines)."""
    from common import LATENCY_FILE

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if os.path.exists(LATENCY_FILE):
            with open(LATENCY_FILE) as lines:
                if sum(1 for _ in lines) >= n:
                    return
        time.sleep(0.05)


def _limited(kind: str, n: int) -> dict:
    """django-jobs: N noop jobs for the limits drains; "n" counts the warm-up job too."""
    from django_jobs import enqueue_many

    if kind == "plain":
        specs = [{}] * n
    elif kind == "mixed":  # alternating, so neither half is at the head of the queue
        specs = [{"limit": "pair"} if i % 2 else {} for i in range(n)]
    elif kind == "rate":
        specs = [{"limit": "rate"}] * n
    else:
        raise SystemExit(f"unknown kind {kind}")
    start = time.perf_counter()
    enqueue_many(specs, handler="noop")
    return {"n": n + 1, "seconds": time.perf_counter() - start}


def _graph(shape: str, n: int) -> dict:
    """django-jobs: a dependency graph in one call; "n" counts the warm-up job too."""
    from django_jobs import enqueue_many

    if shape == "fanin":
        specs = [{"handler": "noop", "ref": f"j{i}"} for i in range(n)]
        specs.append({"handler": "noop", "depends_on": [f"j{i}" for i in range(n)]})
    elif shape == "chain":
        specs = [{"handler": "noop", "ref": "j0"}]
        specs += [
            {"handler": "noop", "ref": f"j{i}", "depends_on": [f"j{i - 1}"]} for i in range(1, n)
        ]
    else:
        raise SystemExit(f"unknown graph {shape}")
    start = time.perf_counter()
    enqueue_many(specs)
    return {"n": len(specs) + 1, "seconds": time.perf_counter() - start}


def _singles(one, n: int, limit: float) -> dict:
    """Enqueue one at a time; "cpu": this process's CPU seconds (database waits left out)."""
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < n:
        one()
        done += 1
        if done % 100 == 0 and time.perf_counter() - start > limit:
            break
    return {"n": done, "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))

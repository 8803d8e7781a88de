"""Resident memory of one worker over 100,000 no-op jobs.

Enqueues the jobs, runs ``runjobs`` in a subprocess and reads its VmRSS from
/proc after the first 10,000 jobs and at the end; prints the growth between
the two. The database is ``DATABASE_URL`` (default: a fresh SQLite file).

    python bench/memory.py [--jobs 100000] [--pool thread|process]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--pool", choices=["thread", "process"], default="thread")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.mkdtemp()) / "memory.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from django_jobs import enqueue_many
    from django_jobs.models import Job, JobHistory

    call_command("migrate", verbosity=0)
    Job.objects.all().delete()
    JobHistory.objects.all().delete()
    for start in range(0, args.jobs, 10_000):
        enqueue_many([{"handler": "noop"} for _ in range(min(10_000, args.jobs - start))])

    worker = subprocess.Popen(
        [sys.executable, "-m", "django", "runjobs", "--no-sync", "-v", "0", "--pool", args.pool],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    started = time.monotonic()
    try:
        after_warmup = None
        while True:
            done = Job.objects.filter(status="completed").count()
            if after_warmup is None and done >= args.warmup:
                after_warmup = (done, rss_kb(worker.pid))
                print(f"after {done} jobs: {after_warmup[1] / 1024:.1f} MB", flush=True)
            if done >= args.jobs:
                end = rss_kb(worker.pid)
                break
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited with {worker.returncode}")
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait()
    elapsed = time.monotonic() - started
    assert after_warmup is not None
    growth = (end - after_warmup[1]) / after_warmup[1] * 100
    print(f"after {args.jobs} jobs: {end / 1024:.1f} MB")
    print(f"growth after warm-up: {growth:+.1f}% ({args.jobs / elapsed:.0f} jobs/s)")


if __name__ == "__main__":
    main()

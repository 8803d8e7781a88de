"""``manage.py runjobs``: the worker process."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import autoreload

from django_jobs.conf import jobs_settings
from django_jobs.creating import sync_declared
from django_jobs.worker import WorkerLoop


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 10_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number <= 1_000_000:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


class Command(BaseCommand):
    help = "Run due jobs until stopped (Ctrl-C or SIGTERM finish in-flight jobs first)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run what is due now, then exit.")
        parser.add_argument("--queues", default="", help="Comma-separated queues (default: all).")
        parser.add_argument("--concurrency", type=_positive_int, help="Jobs run at the same time.")
        parser.add_argument("--batch-size", type=_positive_int, help="Most jobs one claim takes.")
        parser.add_argument("--poll-interval", type=_positive_float, help="Seconds between polls.")
        parser.add_argument(
            "--max-jobs",
            type=_positive_int,
            help="Exit (0) after this many jobs, for a supervisor.",
        )
        parser.add_argument(
            "--max-memory",
            type=_positive_float,
            metavar="MB",
            help="Exit (0) once resident memory passes this many MB.",
        )
        parser.add_argument(
            "--pool",
            choices=["thread", "process"],
            default="thread",
            help="Run handlers in threads (default) or in child processes, "
            "where a timeout kills the process running the job.",
        )
        parser.add_argument("--no-listen", action="store_true", help="Poll only; no wake-ups.")
        parser.add_argument(
            "--reload",
            action="store_true",
            help="Restart the worker when code changes (development), with Django's autoreloader.",
        )
        parser.add_argument(
            "--no-sync",
            action="store_true",
            help="Do not create or update the SCHEDULES setting's jobs at start.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not jobs_settings.ENABLED:
            raise CommandError("django-jobs is disabled (DJANGO_JOBS['ENABLED'] is False).")
        queues = self._queues(options["queues"])
        if options["reload"] and options["once"]:
            raise CommandError("--reload and --once cannot be used together")
        if options["verbosity"] >= 1:
            _log_to_stderr(logging.DEBUG if options["verbosity"] >= 3 else logging.INFO)
        if options["reload"] and os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true":
            autoreload.run_with_reloader(lambda: None)  # the parent: restarts the child below
            return
        if not options["no_sync"]:
            sync_declared()
        worker = WorkerLoop(
            queues=queues,
            concurrency=options["concurrency"],
            batch_size=options["batch_size"],
            poll_interval=options["poll_interval"],
            max_jobs=options["max_jobs"],
            max_memory_mb=options["max_memory"],
            listen=not options["no_listen"],
            pool=options["pool"],
        )
        if options["once"]:
            worker.run_once()
        elif options["reload"]:
            _run_reloading(worker)
        else:
            worker.install_signal_handlers()
            worker.run()
        if worker.halted:
            raise CommandError(f"the worker stopped: {worker.halted}")
        if not options["once"]:
            _exit_if_threads_hang()

    @staticmethod
    def _queues(raw: str) -> list[str] | None:
        names = [name.strip() for name in raw.split(",") if name.strip()]
        if raw and not names:
            raise CommandError("--queues needs at least one queue name")
        bad = [name for name in names if len(name) > 64]
        if bad:
            raise CommandError(f"queue names are at most 64 characters: {bad[0][:70]!r}")
        return names or None


def _run_reloading(worker: WorkerLoop) -> None:
    """The autoreloader's child: the worker runs in a thread while the main one watches files.

    A code change or SIGTERM exits the main thread; the worker then stops as on
    SIGTERM. On Ctrl-C the parent kills this child 0.25 s later, so the jobs
    in flight are put back at once.
    """
    done = threading.Event()

    def main() -> None:
        try:
            worker.run()
        finally:
            done.set()

    interrupted, code = True, 0
    try:
        autoreload.run_with_reloader(main)  # returns on Ctrl-C, raises SystemExit otherwise
    except SystemExit as exc:
        # 3 asks the parent for a restart: a handler thread left running must not lose it.
        interrupted, code = False, exc.code if isinstance(exc.code, int) else 1
        raise
    finally:
        if interrupted:
            worker.shutdown_grace = 0.0
        worker.stop()
        done.wait(float(jobs_settings.SHUTDOWN_GRACE) + 10.0)
        _exit_if_threads_hang(code)


def _exit_if_threads_hang(code: int = 0) -> None:
    # Threads of handlers that ran past their timeout cannot be killed; do not
    # let them keep a finished worker alive.
    alive = [t for t in threading.enumerate() if t.name.startswith("django-jobs") and t.is_alive()]
    if alive:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _log_to_stderr(level: int) -> None:
    logger = logging.getLogger("django_jobs")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)

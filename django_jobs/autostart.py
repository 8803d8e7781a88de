"""``AUTO_START``: a worker thread inside each process that serves the site.

The thread runs the same ``WorkerLoop`` as ``runjobs`` (claims, leases and
heartbeats, retries, history), so any number of web processes and ``runjobs``
processes share the queue safely: the database coordinates them.

Which processes get one:

- ``runserver``'s serving process (the autoreloader's child, or the only
  process with ``--noreload``), from start-up, so ``runserver`` alone runs jobs;
- any other server (gunicorn, uvicorn, daphne, mod_wsgi...) on the first request
  each process handles, so forked workers each start their own and a
  pre-forking master never does;
- never the autoreloader's parent, another management command (``migrate``,
  ``shell``, ``runjobs``, ``test``...), or a test run, unless a test calls
  ``start()``.

The thread stops when the interpreter exits (SIGTERM and Ctrl-C included, where
the server exits normally on them): like a SIGTERM'd ``runjobs`` it stops
claiming, gives in-flight jobs ``SHUTDOWN_GRACE`` seconds and puts back the rest.
Under the autoreloader, whose parent kills the child a moment after Ctrl-C,
in-flight jobs are put back at once.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from django.core.signals import request_started, setting_changed
from django.db import DatabaseError, InterfaceError, connections

from .conf import jobs_settings

if TYPE_CHECKING:
    from .worker import WorkerLoop

logger = logging.getLogger("django_jobs.autostart")

# Seconds between attempts to start while the database is not ready (not migrated, down).
RETRY_MAX = 30.0


class InProcessWorker:
    """A ``WorkerLoop`` run in a daemon thread, stopped cleanly when the process exits."""

    def __init__(self, grace: float | None = None) -> None:
        self.pid = os.getpid()
        # Seconds in-flight jobs get when the process exits (None: SHUTDOWN_GRACE).
        self.grace = grace
        self.worker: WorkerLoop | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="django-jobs-autostart", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, let in-flight jobs finish or put them back, and wait for it."""
        self._stopping.set()
        worker = self.worker
        if worker is not None:
            worker.stop()
        if timeout is None:
            timeout = float(jobs_settings.SHUTDOWN_GRACE) + 10.0
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        from django.apps import apps

        while not apps.ready and not self._stopping.wait(0.05):
            pass  # started from AppConfig.ready(): touch the database once set-up is over
        delay = 1.0
        while not self._stopping.is_set():
            try:
                self._run_worker()
                if self._stopping.is_set():
                    return
                # It halted (a step failing for too long): start another, as a supervisor would.
                halted = self.worker.halted if self.worker is not None else ""
                logger.error("in-process worker stopped: %s; starting another", halted)
            except (DatabaseError, InterfaceError) as exc:
                logger.warning("in-process worker cannot start yet (%s); retrying", exc)
            except Exception:
                logger.exception("in-process worker failed; restarting it")
            connections.close_all()
            self._stopping.wait(delay)
            delay = min(RETRY_MAX, delay * 2)

    def _run_worker(self) -> None:
        from .creating import sync_declared
        from .runner import new_worker
        from .worker.threads import JobThreads

        sync_declared()
        # Daemon threads: a handler still running after the worker stopped (its
        # job already put back) cannot hold the web server's process open at exit.
        pool = JobThreads(int(jobs_settings.CONCURRENCY), name="django-jobs-autostart", daemon=True)
        self.worker = worker = new_worker(pool=pool, shutdown_grace=self.grace)
        if self._stopping.is_set():
            return
        worker.run()


_current: InProcessWorker | None = None
_lock = threading.Lock()
# (pid, answer) of the last "does this process get a thread" decision.
_decision: tuple[int, bool] | None = None


def start() -> InProcessWorker:
    """Start this process's in-process worker (once per process); tests call it directly."""
    global _current
    with _lock:
        if _current is not None and _current.pid == os.getpid() and _current.alive:
            return _current
        _current = InProcessWorker(grace=_exit_grace())
        _register_exit(_current)
        _current.start()
        return _current


def stop(timeout: float | None = None) -> None:
    """Stop this process's in-process worker, if it has one."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None and current.pid == os.getpid():
        current.stop(timeout)


def running() -> bool:
    """Whether this process runs an in-process worker now."""
    current = _current
    return current is not None and current.pid == os.getpid() and current.alive


def at_startup() -> None:
    """From ``AppConfig.ready()``: start at once in runserver's serving process."""
    request_started.connect(_on_request, dispatch_uid="django_jobs.autostart")
    if _command() and _serves_site():
        if threading.current_thread() is threading.main_thread():
            _exit_on_sigterm()
        start()


def _on_request(**kwargs: Any) -> None:
    """Start on the first request a process serves (forked server workers included)."""
    if running() or not _serves_site():
        return
    start()


def _serves_site() -> bool:
    """Whether this process should run a worker thread; decided once per process."""
    global _decision
    pid = os.getpid()
    if _decision is None or _decision[0] != pid:
        _decision = (pid, _decide())
    return _decision[1]


def _decide() -> bool:
    if not (jobs_settings.AUTO_START is True and jobs_settings.ENABLED):
        return False
    if _in_tests():
        return False
    command = _command()
    if command is None:
        return True  # a WSGI/ASGI server: gunicorn, uvicorn, daphne, mod_wsgi...
    if not command.startswith("runserver"):
        return False  # migrate, shell, runjobs, test...
    # With the autoreloader, only its child (RUN_MAIN) serves; the parent watches.
    return os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv


def _command() -> str | None:
    """The management command this process runs, or None (a WSGI/ASGI server)."""
    if len(sys.argv) < 2:
        return None
    from django.core.management import get_commands

    name = sys.argv[1]
    return name if name in get_commands() else None


def _in_tests() -> bool:
    """Django's test environment (``manage.py test``, pytest-django) or pytest is running."""
    from django.test.utils import _TestState

    return hasattr(_TestState, "saved_data") or "pytest" in sys.modules


def _exit_grace() -> float | None:
    """The autoreloader's parent kills its child 0.25 s after Ctrl-C: put jobs back at once."""
    return 0.0 if os.environ.get("RUN_MAIN") == "true" else None


def _exit_on_sigterm() -> None:
    """runserver --noreload dies on SIGTERM without exiting: make it exit, so jobs are put back.

    The autoreloader installs the same handler; a handler somebody else set is kept.
    """
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))


def _register_exit(current: InProcessWorker) -> None:
    # threading's exit hooks run before non-daemon threads are joined (the
    # worker's pool threads among them); plain atexit would run too late.
    register = getattr(threading, "_register_atexit", atexit.register)
    try:
        register(current.stop)
    except RuntimeError:  # the interpreter is already shutting down
        pass


def _forget_decision(*, setting: str, **kwargs: Any) -> None:
    global _decision
    if setting in ("DJANGO_JOBS", "DEBUG"):
        _decision = None


setting_changed.connect(_forget_decision, dispatch_uid="django_jobs.autostart.settings")


def _after_fork() -> None:
    # A forked child inherits the parent's state but not its threads.
    global _current, _decision, _lock
    _current = None
    _decision = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

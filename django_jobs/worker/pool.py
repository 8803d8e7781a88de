"""A pool of child processes that run handlers, so a timeout can kill one.

Threads cannot be stopped: a handler past its timeout keeps its thread busy
until it returns. Here each job runs in a long-lived child process, one job
at a time; a timeout or a cancellation kills that child and a fresh one
takes its place. A handler that calls ``os._exit`` or crashes the
interpreter costs its own attempt only. ``submit()`` returns a
``concurrent.futures.Future`` like ``ThreadPoolExecutor.submit``, so the
worker treats both pools alike.

Children are started with ``spawn`` (no inherited locks, threads or database
connections) and call ``django.setup()``, so they run the handlers the
project registers at import time (``jobs.py`` modules, ``HANDLERS``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn, TypeVar

from django.db import connections

# Seconds a new child may take to start Django before the pool gives up on it.
START_TIMEOUT = 60.0
READY = "ready"

T = TypeVar("T")
# A job waiting for a child: its future, the function, its arguments and timeout.
Work = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], float | None]


class ProcessDied(RuntimeError):
    """The child running a job ended before it answered."""


class ProcessKilled(RuntimeError):
    """The pool killed the child running a job (cancelled, or the pool stopped)."""


class ProcessPool:
    """``size`` child processes, each fed by one thread of this process."""

    def __init__(self, size: int, *, name: str = "django-jobs-proc") -> None:
        self._queue: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._slots = [_Slot(self._queue, _db_names()) for _ in range(size)]
        self._threads = [
            threading.Thread(target=slot.serve, name=f"{name}-{i}", daemon=True)
            for i, slot in enumerate(self._slots)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> Future[T]:
        """Run ``fn(*args)`` in a child; past ``timeout`` seconds of running, kill it."""
        future: Future[T] = Future()
        self._queue.put((future, fn, args, timeout))
        return future

    def kill(self, future: Future[Any], reason: str) -> bool:
        """Kill the child running ``future``; it fails with ``ProcessKilled(reason)``."""
        for slot in self._slots:
            if slot.kill(future, reason):
                return True
        return False

    def pids(self) -> list[int]:
        return [slot.process.pid for slot in self._slots if slot.process and slot.process.pid]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop every child; jobs still running fail with ``ProcessKilled``."""
        if cancel_futures:
            # Before the stop markers go in: draining after would take them too, and a
            # slot thread left waiting would keep its child, and the process, alive.
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._queue.get_nowait()
                    if item is not None:
                        item[0].cancel()
        for slot in self._slots:
            slot.close()
        for _ in self._slots:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class _Slot:
    """One child process and the thread that hands it jobs."""

    def __init__(self, jobs: queue.SimpleQueue[Work | None], db_names: dict[str, str]) -> None:
        self.jobs = jobs
        self.db_names = db_names
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.current: Future[Any] | None = None
        self.kill_reason = ""
        self.closed = False
        self.lock = threading.Lock()

    def serve(self) -> None:
        while True:
            if self.process is None and not self.closed:
                self._start_child()  # before taking a job, so its timeout is all its own
            item = self.jobs.get()
            if item is None or self.closed:
                break
            future, fn, args, timeout = item
            if not future.set_running_or_notify_cancel():
                continue
            with self.lock:
                self.current, self.kill_reason = future, ""
            try:
                future.set_result(self._run(fn, args, timeout))
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                with self.lock:
                    self.current = None
        self._stop_child()

    def kill(self, future: Future[Any], reason: str) -> bool:
        with self.lock:
            if self.current is not future or self.process is None:
                return False
            self.kill_reason = reason
            self.process.kill()
            return True

    def close(self) -> None:
        self.closed = True
        with self.lock:
            self.kill_reason = "the worker stopped before the job finished"
            if self.process is not None and self.process.is_alive():
                self.process.kill()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float | None) -> Any:
        if self.process is None or not self.process.is_alive():
            self._stop_child()
            self._start_child()
        if self.conn is None or self.process is None:
            raise ProcessDied("no process could be started to run the job")
        try:
            self.conn.send((fn, args))
        except (OSError, ValueError):
            return self._died()
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([self.conn, self.process.sentinel], timeout=left)
            if self.conn in ready:
                try:
                    ok, value = self.conn.recv()
                except (EOFError, OSError):
                    return self._died()
                if not ok:
                    raise RuntimeError(value)
                return value
            if ready:
                return self._died()
            if deadline is not None and time.monotonic() >= deadline:
                self._stop_child()
                raise TimeoutError(
                    f"the job ran past its timeout of {timeout:g}s; its process was killed"
                )

    def _died(self) -> NoReturn:
        assert self.process is not None
        self.process.join(5)
        code = self.process.exitcode
        reason = self.kill_reason
        self._stop_child()
        if reason:
            raise ProcessKilled(reason)
        raise ProcessDied(f"the process running the job {_describe_exit(code)}")

    def _start_child(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_child_main,
            args=(child, os.getpid(), self.db_names),
            name="django-jobs-child",
            daemon=True,
        )
        process.start()
        child.close()
        with self.lock:
            self.process, self.conn = process, parent
        ready = wait([parent, process.sentinel], timeout=START_TIMEOUT)
        try:
            if parent in ready and parent.recv() == READY:
                return
        except (EOFError, OSError):
            pass
        self._stop_child()  # the next job tries again and fails with ProcessDied if it must

    def _stop_child(self) -> None:
        # Detach first: close() and kill() from the worker's thread then see no
        # process, never one this thread is closing (a closed process object
        # raises on every call).
        with self.lock:
            process, conn = self.process, self.conn
            self.process = self.conn = None
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)
            with contextlib.suppress(Exception):
                process.close()
        if conn is not None:
            conn.close()


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by signal {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _db_names() -> dict[str, str]:
    """Database names as this process sees them (a test run renames them)."""
    return {alias: connections[alias].settings_dict["NAME"] for alias in connections}


def _child_main(conn: Connection, parent_pid: int, db_names: dict[str, str]) -> None:
    """Set up Django, then run one job after another until the pipe closes."""
    _die_with_parent()
    if os.getppid() != parent_pid:
        return  # the worker died while this child was starting
    # Ctrl-C and SIGTERM are for the worker, which decides what happens to jobs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    import django

    django.setup()
    for alias, name in db_names.items():
        connections[alias].settings_dict["NAME"] = name
    conn.send(READY)
    while True:
        if not conn.poll(1.0):
            if os.getppid() != parent_pid:
                return
            continue
        fn: Callable[..., object]
        args: tuple[object, ...]
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = (True, fn(*args))
        except BaseException as exc:
            reply = (False, f"{type(exc).__name__}: {exc}")
        conn.send(reply)


def _die_with_parent() -> None:
    """Ask Linux to kill this child when the worker dies, even by kill -9."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass

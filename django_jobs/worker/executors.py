"""The pools a worker can run handlers in: threads, processes, or one it is given.

Besides ``ThreadPoolExecutor`` and ``ProcessPool`` (``pool``):

- ``DaemonThreadPool``: the in-process worker's. Its threads are daemons, so a
  handler still running after the worker stopped (its job already put back)
  cannot hold the web server's process open at exit.
- ``InlineExecutor``: the test helper's. It runs each handler at once in the
  calling thread, on the test's own connection and inside its transaction.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from .pool import ProcessPool

P = ParamSpec("P")
T = TypeVar("T")
# A call waiting for a thread: its future, the function and its arguments.
Work = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def make_pool(pool: str | Executor, concurrency: int) -> Executor | ProcessPool:
    """The pool ``WorkerLoop(pool=...)`` names: "thread", "process", or an executor to use."""
    if isinstance(pool, Executor):  # the in-process worker's, or the test helper's
        return pool
    if pool == "process":
        return ProcessPool(concurrency)
    if pool == "thread":
        return ThreadPoolExecutor(concurrency, thread_name_prefix="django-jobs")
    raise ValueError(f"pool must be 'thread' or 'process', not {pool!r}")


class DaemonThreadPool(Executor):
    """At most ``size`` daemon threads taking work from one queue."""

    def __init__(self, size: int, name: str = "django-jobs-autostart") -> None:
        self._size = size
        self._name = name
        self._work: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._work.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            _run(*item)
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        item = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            for _ in self._threads:
                self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        _run(future, fn, args, kwargs)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


def _run(
    future: Future[T], fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)

"""The pools a worker can run handlers in: threads, processes, or one it is given.

``JobThreads`` (``threads``) and ``ProcessPool`` (``pool``) are the worker's
own; the in-process worker's ``JobThreads`` has daemon threads. Any
``Executor`` may be given instead, such as ``InlineExecutor``: the test
helper's, which runs each handler at once in the calling thread, on the
test's own connection and inside its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from .pool import ProcessPool
from .threads import JobThreads

P = ParamSpec("P")
T = TypeVar("T")
Pool = JobThreads | Executor | ProcessPool


def make_pool(pool: str | Pool, concurrency: int) -> Pool:
    """The pool ``WorkerLoop(pool=...)`` names: "thread", "process", or a pool to use."""
    if isinstance(pool, (JobThreads, Executor, ProcessPool)):  # the in-process worker's, say
        return pool
    if pool == "process":
        return ProcessPool(concurrency)
    if pool == "thread":
        return JobThreads(concurrency)
    raise ValueError(f"pool must be 'thread' or 'process', not {pool!r}")


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

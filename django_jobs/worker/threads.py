"""The worker's thread pool: one queue of jobs, and threads that run them in turn.

``ThreadPoolExecutor`` gives every call a ``Future`` (a condition variable, a
work item, done callbacks, a semaphore to find an idle thread). A job that
takes microseconds paid as much for that as for itself: about an eighth of
a worker's own CPU a job (``bench/RESULTS.md``). Here a job is a call the loop queues with a
``Ticket``; a thread takes it, runs it, and the call hands its outcome to
the loop itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

_QUEUED, _TAKEN, _CANCELLED = 0, 1, 2


class Ticket:
    """A queued call's claim to a thread, which ``cancel()`` withdraws while it waits."""

    __slots__ = ("_lock", "_state")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._state = _QUEUED

    def cancel(self) -> bool:
        """True when no thread will run the call (it had not started); False once it had."""
        with self._lock:
            if self._state == _QUEUED:
                self._state = _CANCELLED
            return self._state == _CANCELLED

    def take(self) -> bool:
        """A thread's side of ``cancel()``: True when it may run the call."""
        with self._lock:
            if self._state != _QUEUED:
                return False
            self._state = _TAKEN
            return True


class JobThreads:
    """At most ``size`` threads, started as calls arrive, taking calls from one queue.

    ``daemon``: the in-process worker's, so that a handler still running when
    the worker stopped (its job put back) cannot hold the process open at exit.
    """

    def __init__(self, size: int, *, name: str = "django-jobs", daemon: bool = False) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one thread")
        self.size, self.name, self.daemon = size, name, daemon
        self._calls: queue.SimpleQueue[tuple[Ticket, Callable[[], object]] | None]
        self._calls = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, call: Callable[[], object]) -> Ticket:
        """Queue ``call`` for the next free thread; it must not raise (nothing would hear it)."""
        ticket = Ticket(self._lock)
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot run new jobs after shutdown")
            self._calls.put((ticket, call))
            if len(self._threads) < self.size:
                self._start_thread()
        return ticket

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._serve, name=f"{self.name}_{len(self._threads)}", daemon=self.daemon
        )
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            ticket, call = item
            if ticket.take():
                call()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more calls; ``cancel_futures``: queued ones never run. Running ones finish."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._calls.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._calls.put(None)
        if wait:
            for thread in threads:
                thread.join()

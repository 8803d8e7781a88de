"""The worker: ``WorkerLoop`` claims due jobs, runs them in a pool, writes outcomes.

One module a part:

- ``loop``: ``WorkerLoop``, its life cycle and one iteration, ``loop(now)``;
- ``slots``: the jobs it holds, their timeouts, how far ahead it claims;
- ``upkeep``: heartbeat, runner switch, cancel requests, recovery, pruning;
- ``claiming``: the worker's side of a claim (``Claimed`` records, overlap);
- ``dispatch`` and ``executing``: handing a job to the pool, running its handler;
- ``recording``: outcomes waiting to be written, and their log lines;
- ``pool`` and ``executors``: the process pool and the other executors;
- ``guard``: what a failed database step means (an outage, or a fault);
- ``liveness``, ``overlap``, ``release``: registration and recovery,
  overlapping runs, putting jobs back at shutdown.

``Worker`` is the loop's former name, kept for code that imports it; the
``Worker`` model (``django_jobs.models.Worker``) is the row a loop registers.
The loop is imported on first use, so the parts can be imported alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loop import WorkerLoop

    Worker = WorkerLoop

__all__ = ["Worker", "WorkerLoop"]


def __getattr__(name: str) -> Any:
    if name in ("WorkerLoop", "Worker"):
        from .loop import WorkerLoop

        return WorkerLoop
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

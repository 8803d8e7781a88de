"""What makes a pending job claimable, as SQL text the claims of each engine share.

Statuses are written into the text, not bound: a prepared statement's generic
plan can use a partial index only when it sees 'pending', and SQLite uses a
partial index only for a query that repeats the index's condition term for term.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..models import JobStatus

# The partial index on pending limited jobs, by limit and key (models.Job.Meta).
LIMITED_INDEX = "django_jobs_limited_idx"


def pending_limited(qn: Callable[[str], str]) -> str:
    """The limited index's condition, as the index's own definition writes it."""
    return f"{qn('status')} = '{JobStatus.PENDING}' AND NOT ({qn('limit')} = '')"


def due(qn: Callable[[str], str], queues: Sequence[str] | None, at: Any) -> tuple[list[str], list]:
    """The conditions of a pending job the claims may take at ``at``, and their parameters."""
    found = [f"{qn('next_run_at')} <= %s", f"NOT {qn('paused')}"]
    params: list = [at]
    if queues:
        found.append(f"{qn('queue')} IN ({', '.join(['%s'] * len(queues))})")
        params.extend(queues)
    return found, params

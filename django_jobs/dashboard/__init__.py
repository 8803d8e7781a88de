"""A live dashboard for jobs.

Mount it with ``path("dashboard/", include("django_jobs.dashboard.urls"))``.
Workers call ``sample_queue_depth()`` on their heartbeat (see ``sampling``).
"""

from __future__ import annotations

from datetime import datetime


def sample_queue_depth(now: datetime | None = None) -> bool:
    """Record the queue depths of this minute once (see ``django_jobs.dashboard.sampling``)."""
    from .sampling import sample_queue_depth as sample

    return sample(now)

"""What workers record for the dashboard while nobody watches it.

``sample_queue_depth`` is called on every heartbeat; once a minute per
process it writes the minute's queue depths (if no other process did) and
rolls up the hours that closed, so the depth chart has no gaps and the
roll-up never falls behind. The other calls cost a dictionary look-up.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, router
from django.utils import timezone

from ..models import QueueSample
from . import rollup

logger = logging.getLogger("django_jobs.dashboard")

# A worker is not waiting for a page: it may roll up a little more each minute.
WORKER_STEP_HOURS = 2
# The last minute this process sampled, per database.
_sampled: dict[str, datetime] = {}


def sample_queue_depth(now: datetime | None = None) -> bool:
    """Record this minute's queue depths and advance the roll-up, once a minute per process.

    Returns whether it did the work this time. Never raises: a failed sample
    is retried next minute, and a lost connection shows in the caller's next query.
    """
    now = now or timezone.now()
    alias = router.db_for_write(QueueSample)
    minute = rollup.minute_floor(now)
    if _sampled.get(alias) == minute:
        return False
    _sampled[alias] = minute
    try:
        rollup.sample_queues(now)
        rollup.refresh(now, step=WORKER_STEP_HOURS)
    except DatabaseError as exc:
        logger.debug("queue depth not sampled: %s", exc)
        _sampled.pop(alias, None)
        return False
    return True

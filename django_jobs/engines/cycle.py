"""One commit a worker cycle: write the outcomes and claim the next batch together.

Every commit waits for the disk, and a worker cycle used to commit twice (the
outcomes, then the claim). The engine does both in one transaction (on
PostgreSQL in one statement), so the outcomes and the claim succeed or fail
together, and an outage still loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .. import faults
from ..claimed import Claimed
from ..models import Worker
from ..outcomes import Finished
from . import for_alias
from .claiming import after_claim, claim
from .completion import after_finish, finish_one_by_one


def finish_and_claim(
    worker: Worker,
    items: Sequence[Finished],
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
    using: str,
) -> tuple[list[Finished], list[Claimed]]:
    """Write ``items`` and claim up to ``limit`` jobs; returns (applied outcomes, claimed jobs)."""
    by_id = {item.job.pk: item for item in items}
    try:
        applied, batch = for_alias(using).finish_and_claim(worker, by_id, queues, limit, now)
        # Signals and skipped slots only once both are committed.
        return after_finish(by_id, applied), after_claim(batch, now, using)
    except Exception as exc:
        if faults.classify(exc, using) is faults.Fault.OUTAGE:
            raise
    # A value of the batch was refused: outcomes row by row, then the claim on its own.
    applied = finish_one_by_one(worker, items, now, using)
    return applied, claim(worker, queues, limit, now, using)

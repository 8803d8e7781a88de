"""One commit a worker cycle: write the outcomes and claim the next batch together.

Every commit waits for the disk, and a worker cycle used to commit twice (the
outcomes, then the claim). On PostgreSQL data-modifying CTEs let one
statement do both; elsewhere both share one transaction. Either way the
outcomes and the claim succeed or fail together, so an outage still loses
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import connections, transaction

from . import faults
from .claiming import after_claim, claim, claim_ctes, claim_in_transaction, rows_to_jobs
from .completion import (
    Finished,
    after_finish,
    applied_outcomes,
    finish_ctes,
    finish_in_transaction,
    finish_one_by_one,
)
from .models import Job, Worker
from .statements import fetch_all


def finish_and_claim(
    worker: Worker,
    items: Sequence[Finished],
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
    using: str,
) -> tuple[list[Finished], list[Job]]:
    """Write ``items`` and claim up to ``limit`` jobs; returns (applied outcomes, claimed jobs)."""
    try:
        return _finish_and_claim(worker, items, queues, limit, now, using)
    except Exception as exc:
        if faults.classify(exc, using) is faults.Fault.OUTAGE:
            raise
    # A value of the batch was refused: outcomes row by row, then the claim on its own.
    applied = finish_one_by_one(worker, items, now, using)
    return applied, claim(worker, queues, limit, now, using)


def _finish_and_claim(
    worker: Worker,
    items: Sequence[Finished],
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
    using: str,
) -> tuple[list[Finished], list[Job]]:
    by_id = {item.job.pk: item for item in items}
    if connections[using].vendor != "postgresql":
        with transaction.atomic(using=using):
            applied = finish_in_transaction(worker, by_id, now, using)
            jobs = claim_in_transaction(worker, queues, limit, now, using)
        # Signals and skipped slots only once both are committed.
        return after_finish(by_id, applied), after_claim(jobs, now, using)
    connection = connections[using]
    finishing, finish_params = finish_ctes(worker, by_id, now, connection)
    claiming, claim_params, select = claim_ctes(worker, queues, limit, now, connection)
    # One row even when nothing was claimed, carrying what the completion wrote.
    # Every row repeats it: as text, so it is decoded once, not once a row.
    sql = (
        f"WITH RECURSIVE {finishing}, {claiming}, "
        f"outcome AS (SELECT coalesce(json_agg(json_build_array(id, cancel_requested)), "
        f"'[]'::json)::text AS written FROM done) "
        f"SELECT outcome.written, batch.* FROM outcome LEFT JOIN ({select}) AS batch ON true"
    )
    rows = fetch_all(connection, sql, [*finish_params, *claim_params])
    written = {pk: cancelled for pk, cancelled in json.loads(rows[0][0])}
    applied = after_finish(by_id, applied_outcomes(by_id, written))
    claimed = [row[1:] for row in rows if row[1] is not None]
    jobs = after_claim(rows_to_jobs(claimed, worker, now, using), now, using)
    return applied, jobs

"""A claimed attempt: the job a worker took and the history row of that attempt.

The claim writes both; everything after it (executing, handing a slot to an
overlapping run, writing the outcome, putting back an unfinished job) needs
both, so they travel together.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Job, JobHistory


@dataclass(eq=False, slots=True)
class Claimed:
    job: Job
    # The attempt's history row (its id may be unknown on MySQL); None without history.
    run: JobHistory | None

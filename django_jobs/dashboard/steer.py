"""The dashboard's buttons: every one calls ``django_jobs.steering``, which owns the rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import steering
from ..admin.steering import summary
from ..exceptions import JobStateError
from ..models import Job, JobStatus


@dataclass(frozen=True)
class Verb:
    call: Callable[[int], object]
    permission: str  # the access.allowed action it needs
    label: str
    done: str  # what the summary says was done


VERBS: dict[str, Verb] = {
    "run": Verb(steering.trigger, "change", "Run now", "queued"),
    "retry": Verb(steering.retry, "change", "Retry", "queued for retry"),
    "cancel": Verb(steering.cancel, "change", "Cancel", "cancelled"),
    "pause": Verb(steering.pause, "change", "Pause", "paused"),
    "resume": Verb(steering.resume, "change", "Resume", "resumed"),
    "delete": Verb(steering.delete, "delete", "Delete", "deleted"),
}


def apply(verb: str, pks: Iterable[int]) -> str:
    """Apply one verb to each job; a refused or vanished job is counted, never fatal."""
    action = VERBS[verb]
    done: Counter = Counter()
    skipped: Counter = Counter()
    for pk in pks:
        try:
            action.call(pk)
        except JobStateError as exc:
            skipped[_reason(exc)] += 1
        except Job.DoesNotExist:
            skipped["gone"] += 1
        else:
            done[action.done] += 1
    return summary(done, skipped)


def _reason(exc: JobStateError) -> str:
    text = str(exc)
    return text.rsplit("(", 1)[-1].rstrip(")") if "(" in text else text


def buttons(job: Job) -> list[str]:
    """The verbs worth offering on this job's page; the service still decides."""
    offered = []
    if job.status != JobStatus.RUNNING:
        offered.append("run")
    if job.status == JobStatus.FAILED:
        offered.append("retry")
    if job.status in (JobStatus.PENDING, JobStatus.RUNNING):
        offered.append("cancel")
    if job.is_recurring:
        offered.append("resume" if job.paused else "pause")
    if job.status != JobStatus.RUNNING:
        offered.append("delete")
    return offered

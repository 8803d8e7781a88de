"""The dashboard's buttons: every one calls ``django_jobs.steering``, which owns the rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .. import steering
from ..admin.steering import summary
from ..exceptions import JobStateError
from ..models import Job
from ..permissions import user_may


@dataclass(frozen=True)
class Verb:
    call: Callable[[int], object]
    permission: str  # what it does, for permissions.user_may and steering.may
    label: str
    done: str  # what the summary says was done


# verb in the URL -> the service call; ``permission`` is also steering's verb.
VERBS: dict[str, Verb] = {
    "run": Verb(steering.trigger, "trigger", "Run now", "queued"),
    "retry": Verb(steering.retry, "retry", "Retry", "queued for retry"),
    "cancel": Verb(steering.cancel, "cancel", "Cancel", "cancelled"),
    "pause": Verb(steering.pause, "pause", "Pause", "paused"),
    "resume": Verb(steering.resume, "resume", "Resume", "resumed"),
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


def buttons(job: Job, user: Any) -> list[tuple[str, Verb]]:
    """The verbs this user may use on this job now: steering and permissions decide."""
    return [
        (verb, action)
        for verb, action in VERBS.items()
        if user_may(user, action.permission) and steering.may(action.permission, job)
    ]


def usable(user: Any) -> dict[str, Verb]:
    """The verbs this user may use on some job, for the bulk menu."""
    return {verb: action for verb, action in VERBS.items() if user_may(user, action.permission)}

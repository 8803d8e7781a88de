"""Exceptions raised by django-jobs."""


class InvalidSchedule(ValueError):
    """A schedule expression that cannot be parsed; the message says why."""


class InvalidJob(ValueError):
    """A job field with a bad value; ``field`` names it so forms and APIs can point at it.

    ``index``: the position of the refused job in an ``enqueue_many`` call, so
    the bulk API can put the message under that item.
    """

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.index = index


class UnknownHandler(InvalidJob):
    """No handler is registered under this name; only registered handlers can ever run."""

    def __init__(self, name: str) -> None:
        super().__init__("handler", f"no handler is registered under the name {name!r}")
        self.name = name


class HandlerAlreadyRegistered(ValueError):
    """A different function is already registered under this handler name."""


class JobStateError(Exception):
    """The job is in a state that does not allow the requested change (HTTP 409)."""


class DuplicateJob(JobStateError):
    """A live job already holds this unique key (``enqueue(..., on_conflict="raise")``)."""

    def __init__(self, unique_key: str, job: object) -> None:
        super().__init__(f"job {getattr(job, 'pk', job)} already holds unique key {unique_key!r}")
        self.unique_key = unique_key
        self.job = job


# Raised by a handler to steer what happens to its job (``outcomes.settle`` decides).

# The longest delay a handler may ask for: a later instant is a mistake, not a plan.
MAX_DELAY = 366 * 24 * 3600.0


def _delay(seconds: float, *, positive: bool = False) -> float:
    """Seconds as a float within bounds; a bad value is the handler's error (``ValueError``)."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"the delay must be a number of seconds, not {seconds!r}") from None
    low = "more than 0" if positive else "at least 0"
    if not (0 < value if positive else 0 <= value) or not value <= MAX_DELAY:  # refuses NaN
        raise ValueError(f"the delay must be {low} and at most {MAX_DELAY:g} s, not {seconds!r}")
    return value


class Steer(Exception):
    """Base of the exceptions a handler raises to say what its job does next."""

    kind = ""
    seconds = 0.0


class RetryAfter(Steer):
    """This attempt failed (it counts); retry after exactly ``seconds`` instead of the backoff.

    With no attempts left the job fails for good, as after any failure.
    """

    kind = "retry_after"

    def __init__(self, seconds: float, message: str = "") -> None:
        self.seconds = _delay(seconds)
        super().__init__(message or f"retry after {self.seconds:g} s")


class Discard(Steer):
    """This attempt failed and no other may follow: the job fails for good at once."""

    kind = "discard"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(reason or "discarded by its handler")


class Snooze(Steer):
    """Come back after ``seconds`` without using an attempt: the job is pending again."""

    kind = "snooze"

    def __init__(self, seconds: float, message: str = "") -> None:
        # More than 0: a job snoozed until now would run again at once, forever.
        self.seconds = _delay(seconds, positive=True)
        super().__init__(message or f"snoozed for {self.seconds:g} s")

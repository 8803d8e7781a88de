"""Exceptions raised by django-jobs."""


class InvalidSchedule(ValueError):
    """A schedule expression that cannot be parsed; the message says why."""


class InvalidJob(ValueError):
    """A job field with a bad value; ``field`` names it so forms and APIs can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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

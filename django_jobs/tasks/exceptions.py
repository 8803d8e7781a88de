"""Exceptions a task result names for endings that raised nothing in the task itself."""


class TaskCancelled(Exception):
    """The job behind the task was cancelled (``steering.cancel``, the API, the admin)."""


class AttemptFailed(Exception):
    """An attempt ended without an exception of the task's: its worker was lost or stopped."""

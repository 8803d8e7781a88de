"""The runner switch in Python: ``start()``, ``stop()`` and ``status()``.

The switch is one database row (``models.Runner``) that every worker reads
each heartbeat, so these work from any process: a shell, a view, a deploy
script. The REST API and the admin call the same functions.

    from django_jobs import runner

    runner.stop()                 # workers finish what they run and take nothing new
    runner.status().live_workers  # workers with a fresh heartbeat
    runner.start()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .status import RunnerStatus
    from .worker import WorkerLoop

__all__ = ["is_running", "start", "status", "stop"]


def start() -> RunnerStatus:
    """Let workers take jobs again; idle ones are woken at once where NOTIFY works."""
    from .models import Runner

    Runner.switch(True)
    return status()


def stop() -> RunnerStatus:
    """Stop workers from taking new jobs; runs in progress finish."""
    from .models import Runner

    Runner.switch(False)
    return status()


def is_running() -> bool:
    """Whether workers may take jobs (the switch, or ``RUNNER_ENABLED`` before first use)."""
    from .models import Runner

    return Runner.is_running()


def status() -> RunnerStatus:
    """The switch and every registered worker: heartbeat, liveness, what it runs."""
    from .status import runner_status

    return runner_status()


def new_worker(**options: Any) -> WorkerLoop:
    """The worker loop ``runjobs`` runs, for the in-process thread and the test helper."""
    from .worker import WorkerLoop

    return WorkerLoop(**options)

"""Finding tasks: which ``TASKS`` aliases are ours, and the apps' ``tasks.py`` modules.

Nothing here imports Django's tasks framework, so ``AppConfig.ready()`` can ask
whether it is in use on a project that has neither it nor the backport.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from django.conf import settings

BACKEND_PATH = "django_jobs.tasks.JobsBackend"

# Recurring tasks (``@task(schedule=...)``): job name -> (function, ``SCHEDULES`` entry).
scheduled: dict[str, tuple[Any, dict[str, Any]]] = {}


def framework_installed() -> bool:
    """``django.tasks`` (Django 6.0+) or the ``django_tasks`` backport can be imported."""
    try:
        return find_spec("django.tasks") is not None or find_spec("django_tasks") is not None
    except ImportError:
        return False


def our_aliases() -> list[str]:
    """The ``TASKS`` aliases whose backend is ``JobsBackend``."""
    configured = getattr(settings, "TASKS", None) or {}
    if not isinstance(configured, dict):
        return []
    return [
        alias
        for alias, params in configured.items()
        if isinstance(params, dict) and params.get("BACKEND") == BACKEND_PATH
    ]


def autodiscover() -> None:
    """Import every installed app's ``tasks`` module when a ``TASKS`` alias runs on us.

    Importing a module registers its tasks as handlers; a project that does not
    send tasks to django-jobs has its ``tasks.py`` modules left alone.
    """
    if our_aliases() and framework_installed():
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("tasks")


def declared_schedules() -> dict[str, dict[str, Any]]:
    """The recurring tasks, for ``creating.declared_schedules``."""
    return {name: dict(spec) for name, (_, spec) in scheduled.items()}

"""A backend for Django's tasks framework (``django.tasks``, or the ``django_tasks`` backport).

``TASKS = {"default": {"BACKEND": "django_jobs.tasks.JobsBackend"}}``. Importing
this package does not import the framework: ``AppConfig.ready()`` uses
``discovery`` on projects that have neither Django 6 nor the backport.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JobsBackend", "JobsTask"]


def __getattr__(name: str) -> Any:
    if name == "JobsBackend":
        from .backend import JobsBackend

        return JobsBackend
    if name == "JobsTask":
        from .options import JobsTask

        return JobsTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

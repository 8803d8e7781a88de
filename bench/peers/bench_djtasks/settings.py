from importlib.util import find_spec

from common import django_base

# Django 6 has django.tasks; on Django 5.2 the django_tasks backport is the app.
backport = [] if find_spec("django.tasks") else ["django_tasks"]
globals().update(
    django_base([*backport, "rest_framework", "django_filters", "django_jobs", "bench_djtasks"])
)
TASKS = {"default": {"BACKEND": "django_jobs.tasks.JobsBackend"}}

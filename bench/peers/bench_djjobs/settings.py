from common import django_base

globals().update(django_base(["rest_framework", "django_filters", "django_jobs", "bench_djjobs"]))

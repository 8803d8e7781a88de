import json
import os

from common import django_base

globals().update(django_base(["rest_framework", "django_filters", "django_jobs", "bench_djjobs"]))

# bench/run.py --limits: the limits its drains run under (JSON).
if os.environ.get("BENCH_LIMITS"):
    DJANGO_JOBS = {"LIMITS": json.loads(os.environ["BENCH_LIMITS"])}

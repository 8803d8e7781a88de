from common import django_base

globals().update(django_base(["procrastinate.contrib.django", "bench_procrastinate"]))

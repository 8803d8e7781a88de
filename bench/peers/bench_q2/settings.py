import os

from common import django_base

globals().update(django_base(["django_q", "bench_q2"]))
# The ORM broker; everything else at its defaults, except keeping every
# success row (the default keeps 250), which the benchmark counts.
Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "workers": int(os.environ.get("BENCH_WORKERS", "1")),
    "save_limit": 0,
    "timeout": 30,
    "retry": 60,
}

from common import django_base

globals().update(django_base(["django_tasks", "django_tasks_db", "bench_tasksdb"]))
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

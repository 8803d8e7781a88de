"""A project without ``django.contrib.admin``: the worker's upkeep must not need it."""

import subprocess
import sys

from .conftest import ROOT

SCRIPT = """
import django
from django.conf import settings

settings.configure(
    SECRET_KEY="x",
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_jobs"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from django_jobs import enqueue, handler

handler("anything")(lambda data: None)
from django_jobs.dashboard import sample_queue_depth
from django_jobs.models import Job, QueueSample

enqueue("anything")
assert sample_queue_depth() is True, "the sample was not taken"
assert QueueSample.objects.exists()
import django_jobs.worker.upkeep  # the worker's upkeep imports without the admin
print("sampled", Job.objects.count())
"""


def test_workers_sample_and_roll_up_without_the_admin_installed():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "sampled 1"
    assert "django.contrib.admin" not in done.stderr

from common import record_start
from django_tasks import task


@task()
def noop(i=None):
    record_start(i)

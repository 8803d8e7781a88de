from common import record_start

from django_jobs import handler


@handler("noop")
def noop(data):
    record_start((data or {}).get("i"))

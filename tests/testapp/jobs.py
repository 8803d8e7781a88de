"""Handlers the tests run; discovered through the ``jobs.py`` convention."""

import os
import time

from django_jobs import handler


@handler
def noop(data):
    return None


@handler("echo")
def echo(data):
    """Return the data it was given."""
    return data


@handler
def add(data):
    return {"sum": data["a"] + data["b"]}


@handler
def fail(data):
    raise RuntimeError(f"boom: {data}")


@handler
def with_ctx(data, ctx):
    return {"job_id": ctx.job_id, "attempt": ctx.attempt}


@handler
async def async_echo(data):
    return {"async": data}


@handler
def sleep(data, ctx):
    deadline = time.monotonic() + float(data.get("seconds", 1))
    while time.monotonic() < deadline:
        if ctx.cancelled and data.get("fail_when_cancelled"):
            raise RuntimeError("cancelled while running")
        if ctx.cancelled and data.get("cooperative", True):
            return {"stopped": "cancelled"}
        time.sleep(0.01)
    return {"slept": data.get("seconds", 1)}


@handler
def record(data):
    """Append one line per run to a file, so tests can count runs across processes."""
    time.sleep(float(data.get("seconds", 0)))
    with open(data["path"], "a") as out:
        out.write(f"{data.get('key', '')} {os.getpid()}\n")
    return None


@handler
def flaky(data, ctx):
    """Fail until the attempt given in data, then succeed."""
    if ctx.attempt < data["succeed_on"]:
        raise ValueError(f"attempt {ctx.attempt} fails")
    return {"attempt": ctx.attempt}


@handler
def exits(data):
    raise SystemExit(3)


@handler
def interrupts(data):
    raise KeyboardInterrupt


@handler
def unserialisable(data):
    return object()


@handler
def hard_exit(data):
    """Leave the process at once, as a handler calling os._exit would."""
    os._exit(int((data or {}).get("code", 7)))


@handler
def segfault(data):
    """Crash the interpreter."""
    import ctypes

    ctypes.string_at(0)


@handler
def broken_sql(data):
    """Fail a statement inside a transaction and let the error escape."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM django_jobs_no_such_table")
    return "unreachable"


@handler
def open_transaction(data):
    """Enter a transaction and never leave it."""
    from django.db import transaction

    transaction.atomic().__enter__()
    from django_jobs.models import Job

    Job.objects.filter(pk=-1).update(name="x")
    return None


@handler
def break_connection(data):
    """Have the server end this connection, and return as if nothing happened."""
    from django.db import DatabaseError, connection

    statements = {
        "postgresql": "SELECT pg_terminate_backend(pg_backend_pid())",
        "mysql": "KILL CONNECTION_ID()",
    }
    try:
        with connection.cursor() as cursor:
            cursor.execute(statements[connection.vendor])
    except DatabaseError:
        pass
    connection.errors_occurred = False  # Django must not learn about it from us
    return None


@handler
def uses_db(data):
    """Read from the database, so a broken connection would show."""
    from django_jobs.models import Job

    return {"jobs": Job.objects.count()}


@handler
def mark_then_sleep(data):
    """Write this process's pid to a file, then sleep: tests know the handler has started."""
    with open(data["path"], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(float(data.get("seconds", 30)))
    return None


@handler
def emit(data):
    """Return or raise text built from code points, so that ``data`` itself stays storable."""
    text = "".join(chr(code) for code in data["codes"])
    if data.get("how") == "raise":
        raise ValueError(text)
    if data.get("how") == "key":
        return {text: 1}
    return {"text": text}


@handler
def count_users(data):
    """How many users the handler's connection sees (the test helper shares the test's)."""
    from django.contrib.auth.models import User

    return {"users": User.objects.count()}


@handler
def timed(data):
    """Sleep, then append "key start end pid" (wall clock) so tests can see runs overlap."""
    start = time.time()
    time.sleep(float(data.get("seconds", 0)))
    with open(data["path"], "a") as out:
        out.write(f"{data.get('key', '')} {start} {time.time()} {os.getpid()}\n")


@handler
def dependency_results(data, ctx):
    """What the job's dependencies returned, keyed by their ids as text (JSON keys)."""
    return {str(pk): result for pk, result in sorted(ctx.dependency_results.items())}


@handler
def stamp(data, ctx):
    """When the handler ran (wall clock), and which dependencies' results it was given."""
    start = time.time()
    time.sleep(float((data or {}).get("seconds", 0)))
    return {"start": start, "end": time.time(), "deps": sorted(ctx.dependency_results)}


@handler
def progress_then_wait(data, ctx):
    """Report a quarter, then wait (a worker test kills it)."""
    ctx.progress(0.25, "a quarter")
    time.sleep(data.get("seconds", 30))

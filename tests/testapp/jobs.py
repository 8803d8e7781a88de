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
        if ctx.cancelled and data.get("cooperative", True):
            return {"stopped": "cancelled"}
        time.sleep(0.01)
    return {"slept": data.get("seconds", 1)}


@handler
def record(data):
    """Append one line per run to a file, so tests can count runs across processes."""
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

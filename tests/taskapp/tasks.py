"""Tasks the tests run through ``JobsBackend``; discovered through the ``tasks.py`` convention."""

from django_jobs.tasks.compat import task


class CustomError(Exception):
    pass


@task
def noop(*args, **kwargs):
    return None


@task()
def calculate(a, b, *, times=1):
    """Add two numbers."""
    return (a + b) * times


@task
def failing():
    raise ValueError("this task failed on purpose")


@task
def failing_custom():
    raise CustomError("a custom\nmulti-line message")


@task
def complex_return_value():
    return object()


@task
async def async_calculate(a, b):
    return a + b


@task(takes_context=True)
def context_task(context, label):
    result = context.task_result
    return {
        "label": label,
        "attempt": context.attempt,
        "id": result.id,
        "status": str(result.status),
        "workers": len(result.worker_ids),
    }


@task(takes_context=True, max_attempts=3)
def flaky(context):
    if context.attempt < 2:
        raise RuntimeError(f"attempt {context.attempt} fails")
    return {"attempt": context.attempt, "errors": len(context.task_result.errors)}


@task(max_attempts=1, timeout=30)
def once():
    raise RuntimeError("no second chance")


@task(queue_name="mail", priority=50)
def send_mail(to):
    return {"sent": to}


@task(takes_context=True)
async def async_context(context):
    return context.attempt


@task
def slow(seconds):
    import time

    time.sleep(seconds)
    return "slept"


@task(unique_key=True)
def sync_user(user_id, *, full=False):
    return user_id


def _feed_key(url, **kwargs):
    return None if url.startswith("local:") else f"tests:feed:{url}"


@task(unique_key=_feed_key)
def import_feed(url, **kwargs):
    return url


@task(unique_key="tests:rebuild-index", on_conflict="raise", max_attempts=1)
def rebuild_index():
    return "rebuilt"

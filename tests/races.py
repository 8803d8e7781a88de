"""Many connections at once: run one callable in several threads released together."""

import threading

from django.db import connections


def race(target, threads: int = 8):
    """``target()`` in ``threads`` threads started at one instant: (results, exceptions)."""
    barrier = threading.Barrier(threads)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # collected for the test to assert on
            errors.append(exc)
        finally:
            connections.close_all()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return results, errors

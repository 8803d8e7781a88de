"""Count the SQL statements a process sends through psycopg 3 (benchmark only).

On ``PYTHONPATH`` only when ``BENCH_STMT_DIR`` is set: wraps
``Cursor.execute``/``executemany`` (sync and async) and writes the running
count to ``$BENCH_STMT_DIR/<pid>`` at most every 0.1 s and at exit. An
``executemany`` counts one statement per parameter set.
"""

import atexit
import os
import threading
import time

_DIR = os.environ.get("BENCH_STMT_DIR")


def _install() -> None:
    import psycopg

    state = {"pid": os.getpid(), "count": 0, "written": 0.0}
    lock = threading.Lock()

    def bump(n: int) -> None:
        with lock:
            if state["pid"] != os.getpid():  # a forked child starts from zero
                state.update(pid=os.getpid(), count=0, written=0.0)
            state["count"] += n
            now = time.monotonic()
            if now - state["written"] > 0.1:
                state["written"] = now
                _write(state)

    def _write(current: dict) -> None:
        path = os.path.join(_DIR, str(current["pid"]))
        with open(path + ".tmp", "w") as out:
            out.write(str(current["count"]))
        os.replace(path + ".tmp", path)

    def wrap(cls, name: str, many: bool, is_async: bool) -> None:
        original = getattr(cls, name)
        if is_async:

            async def wrapper(self, query, params=None, *args, **kwargs):
                bump(len(params) if many and hasattr(params, "__len__") else 1)
                return await original(self, query, params, *args, **kwargs)
        else:

            def wrapper(self, query, params=None, *args, **kwargs):
                bump(len(params) if many and hasattr(params, "__len__") else 1)
                return original(self, query, params, *args, **kwargs)

        setattr(cls, name, wrapper)

    for cls, is_async in ((psycopg.Cursor, False), (psycopg.AsyncCursor, True)):
        wrap(cls, "execute", False, is_async)
        wrap(cls, "executemany", True, is_async)

    def at_exit() -> None:
        if state["pid"] == os.getpid():
            _write(state)

    atexit.register(at_exit)


if _DIR:
    _install()

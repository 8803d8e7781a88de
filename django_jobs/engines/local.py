"""Waking idle workers on this machine after a commit, on any database; a hint only.

Each listening worker binds a Unix datagram socket in a directory of its
database's own (``<tmp>/django-jobs-<uid>/<digest of the database>``). After
the transaction that made a job due commits, the announcement sends one
datagram to every socket there. Workers of another database, or of another
project, listen in another directory and never hear it.

Sending never blocks and never raises: a full socket buffer means that worker
already has a wake-up waiting, a refused send finds the file of a worker that
died (the file is removed), and any other error is logged and dropped. The
poll still finds every job, so a lost datagram costs at most one poll interval.

Workers of this process are also kept in memory, and an announcement sets
their event directly: the in-process runner wakes without a datagram.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connections, transaction

from ..conf import jobs_settings
from . import for_alias

logger = logging.getLogger("django_jobs.notify")

ALL_QUEUES = "*"
# Longer payloads are sent as ALL_QUEUES: a datagram stays small.
MAX_PAYLOAD = 1024
SUFFIX = ".sock"
# Where the pending announcement of a connection's transaction is kept.
_PENDING = "_django_jobs_wake"


def enabled() -> bool:
    return bool(jobs_settings.LOCAL_WAKEUPS) and hasattr(socket, "AF_UNIX")


# Announcing --------------------------------------------------------------------------


def announce(alias: str, queues: Iterable[str] | None) -> None:
    """Wake this machine's workers of ``alias`` for ``queues`` (None: any) once it commits.

    One datagram a transaction, whatever the number of jobs it made due; none
    if it rolls back.
    """
    if not jobs_settings.LOCAL_WAKEUPS:
        return
    conn = connections[alias]
    if not conn.in_atomic_block:
        wake(alias, None if queues is None else set(queues))
        return
    pending: _Pending | None = getattr(conn, _PENDING, None)
    if pending is None or not pending.registered(conn.run_on_commit):
        pending = _Pending(alias, index=len(conn.run_on_commit))
        setattr(conn, _PENDING, pending)
        transaction.on_commit(pending, using=alias)
    pending.add(queues)


@dataclass
class _Pending:
    """What one transaction made due; called by ``on_commit``."""

    alias: str
    index: int
    queues: set[str] | None = field(default_factory=set)

    def registered(self, callbacks: list) -> bool:
        """Still in the transaction's callbacks (a rollback drops them)."""
        return len(callbacks) > self.index and callbacks[self.index][1] is self

    def add(self, queues: Iterable[str] | None) -> None:
        if queues is None:
            self.queues = None
        elif self.queues is not None:
            self.queues.update(queues)

    def __call__(self) -> None:
        wake(self.alias, self.queues)


def wake(alias: str, queues: set[str] | None) -> None:
    """Wake now the workers of ``alias`` in this process and in the others here."""
    for waiter in _in_process(alias):
        if waiter.wants(queues):
            waiter.event.set()
    try:
        room = room_of(alias)
        if room is not None:
            _send(room, _payload(queues))
    except Exception:  # a hint: never let it fail the caller
        logger.debug("local wake-up not sent", exc_info=True)


def _payload(queues: set[str] | None) -> bytes:
    if queues is None:
        return ALL_QUEUES.encode()
    payload = "\n".join(sorted(queues)).encode()
    return payload if len(payload) <= MAX_PAYLOAD else ALL_QUEUES.encode()


_sender: socket.socket | None = None


def _send(room: Path, payload: bytes) -> None:
    global _sender
    try:
        names = os.listdir(room)
    except FileNotFoundError:
        return  # no worker ever listened for this database here
    if room not in _trusted:
        if not (_owned(room.parent) and _owned(room)):
            return  # somebody else's directory: tell it nothing
        _trusted.add(room)  # nobody else can take a directory this user owns
    if _sender is None:
        _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sender.setblocking(False)
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        path = room / name
        try:
            _sender.sendto(payload, str(path))
        except BlockingIOError:
            pass  # its buffer is full: it has wake-ups waiting
        except ConnectionRefusedError:
            with contextlib.suppress(OSError):
                path.unlink()  # nobody reads it: its worker died
        except FileNotFoundError:
            pass  # its worker just stopped


# Where a database's workers listen ------------------------------------------------


def room_of(alias: str) -> Path | None:
    """The directory of ``alias``'s database on this machine; None: it has none."""
    engine = for_alias(alias)
    if not engine.local_wakeups():
        return None
    # Worked out once per database: every enqueue() in autocommit asks.
    settings = connections[alias].settings_dict
    key = (alias, settings.get("HOST"), settings.get("PORT"), str(settings.get("NAME")))
    if key not in _rooms:
        identity = engine.local_identity()
        digest = identity and hashlib.sha256(identity.encode()).hexdigest()[:24]
        _rooms[key] = _base() / digest if digest else None
    return _rooms[key]


_rooms: dict[tuple, Path | None] = {}


def _base() -> Path:
    """This user's directory: other users can neither read nor plant sockets in it."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"django-jobs-{uid}"


def _make_room(room: Path) -> None:
    base = room.parent
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    if not _owned(base):
        raise PermissionError(f"{base} is not a directory of this user's")
    room.mkdir(mode=0o700, exist_ok=True)
    if not _owned(room):
        raise PermissionError(f"{room} is not a directory of this user's")


def _owned(directory: Path) -> bool:
    """A real directory (not a link) of this user's."""
    info = directory.lstat()
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and mine


# Rooms whose owner was checked once.
_trusted: set[Path] = set()


# Listening -------------------------------------------------------------------------


@dataclass(eq=False)
class Waiter:
    """A worker of this process: its event, and the queues it takes (None: any)."""

    alias: str
    event: threading.Event
    queues: set[str] | None

    def wants(self, queues: Iterable[str] | None) -> bool:
        return (
            self.queues is None
            or queues is None
            or ALL_QUEUES in queues
            or not self.queues.isdisjoint(queues)
        )


_waiters: list[Waiter] = []
_lock = threading.Lock()


def _in_process(alias: str) -> list[Waiter]:
    return [waiter for waiter in _waiters if waiter.alias == alias]


def waiting(alias: str) -> bool:
    """Whether a worker of this process waits for jobs of ``alias``."""
    return any(waiter.alias == alias for waiter in _waiters)


class Listener(threading.Thread):
    """Registers a worker of this process, and reads its socket where it has one.

    ``start()`` returns once the socket is bound: from then on every commit
    that makes a job due wakes the worker.
    """

    def __init__(self, wake: threading.Event, queues: set[str] | None, alias: str) -> None:
        super().__init__(name="django-jobs-local-listener", daemon=True)
        self.waiter = Waiter(alias, wake, queues)
        self.path: Path | None = None
        self._socket: socket.socket | None = None
        self._halt = threading.Event()

    def start(self) -> None:
        with _lock:
            _waiters.append(self.waiter)
        try:
            self._bind()
        except OSError as exc:
            logger.warning("local wake-ups off for this worker (%s); it polls", exc)
            self._close()
            return
        if self._socket is not None:
            super().start()

    def _bind(self) -> None:
        room = room_of(self.waiter.alias)
        if room is None:
            return
        _make_room(room)
        path = room / f"{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(path))
        except OSError:
            sock.close()
            raise
        self._socket, self.path = sock, path

    def run(self) -> None:
        sock = self._socket
        assert sock is not None
        while not self._halt.is_set():
            try:
                payload = sock.recv(MAX_PAYLOAD + 64)
            except OSError:
                if not self._halt.is_set():
                    logger.debug("local wake-up socket failed", exc_info=True)
                    self.waiter.event.set()
                return
            if self.waiter.wants(payload.decode(errors="replace").split("\n")):
                self.waiter.event.set()

    def stop(self) -> None:
        """Unregister; the socket's file goes, so nobody sends to it any more."""
        with _lock:
            if self.waiter in _waiters:
                _waiters.remove(self.waiter)
        self._halt.set()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
        sock = self._socket
        if sock is not None and self.is_alive():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # ends the blocking recv
        if self.is_alive():
            self.join(timeout=2.0)
        self._close()

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()


def _after_fork() -> None:
    # A child inherits the parent's list, not its worker threads.
    global _lock, _sender
    _waiters.clear()
    _lock = threading.Lock()
    _sender = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

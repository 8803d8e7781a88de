"""Private PostgreSQL and MariaDB servers for the tests that restart a database server.

Each one lives in a temporary folder, listens on a free port of 127.0.0.1 and is
stopped and removed afterwards. The servers the rest of the suite uses (and
anybody else's on the machine) are never stopped, restarted or touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DATABASE = "django_jobs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class PrivateServer:
    """A database server of the test's own: ``start``, ``stop``, ``destroy``."""

    vendor = ""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"django-jobs-{self.vendor}-"))
        self.port = free_port()

    @classmethod
    def available(cls) -> bool:
        raise NotImplementedError

    def settings(self) -> dict:
        """The ``DATABASES`` entries that point a connection at this server."""
        raise NotImplementedError

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def destroy(self) -> None:
        """Stop the server if it runs and remove its folder."""
        try:
            if self.is_up():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        done = subprocess.run(command, capture_output=True, text=True, **kwargs)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}{self.log()}")
        return done


class PrivatePostgres(PrivateServer):
    """``initdb`` into a temporary folder, run by ``pg_ctl`` (as ``postgres`` when root)."""

    vendor = "postgresql"

    @staticmethod
    def bindir() -> str | None:
        found = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"),
            key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
        )
        if found:
            return os.path.dirname(found[-1])
        initdb = shutil.which("initdb")
        return os.path.dirname(initdb) if initdb else None

    @classmethod
    def available(cls) -> bool:
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")  # root runs the server as postgres
            except KeyError:
                return False
        return cls.bindir() is not None

    def _as_owner(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        return ["runuser", "-u", "postgres", "--", *command]  # postgres refuses to run as root

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        initdb = os.path.join(self.bindir(), "initdb")
        command = [initdb, "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust"]
        self._run(self._as_owner([*command, "-E", "UTF8", "--no-sync"]))

    def start(self, timeout: float = 60.0) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        command = [os.path.join(self.bindir(), "pg_ctl"), "-D", str(self.dir / "data")]
        command += ["-o", options, "-l", str(self.dir / "server.log"), "-w", "start"]
        self._run(self._as_owner(command), timeout=timeout)
        _wait(self.is_up, timeout, "the private PostgreSQL server")

    def stop(self) -> None:
        command = [os.path.join(self.bindir(), "pg_ctl"), "-D", str(self.dir / "data")]
        self._run(self._as_owner([*command, "-m", "fast", "-w", "stop"]), timeout=60)

    def is_up(self) -> bool:
        pg_isready = os.path.join(self.bindir(), "pg_isready")
        command = [pg_isready, "-h", "127.0.0.1", "-p", str(self.port), "-q"]
        return subprocess.run(command, capture_output=True).returncode == 0

    def create_database(self) -> None:
        createdb = os.path.join(self.bindir(), "createdb")
        self._run([createdb, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE])

    def settings(self) -> dict:
        return {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "USER": "postgres",
            "PASSWORD": "",
            "NAME": DATABASE,
        }


class PrivateMariaDB(PrivateServer):
    """``mariadb-install-db`` into a temporary folder, ``mariadbd`` on a free port."""

    vendor = "mysql"
    SERVER = "/usr/sbin/mariadbd"

    def __init__(self) -> None:
        super().__init__()
        self.process: subprocess.Popen | None = None

    @classmethod
    def install_db(cls) -> str | None:
        return shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")

    @classmethod
    def available(cls) -> bool:
        return os.access(cls.SERVER, os.X_OK) and cls.install_db() is not None

    def _user(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def create(self) -> None:
        command = [self.install_db(), "--no-defaults", f"--datadir={self.dir / 'data'}"]
        command += ["--auth-root-authentication-method=normal", "--skip-test-db", *self._user()]
        self._run(command, timeout=120)

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.dir / "server.log", "ab")
        self.process = subprocess.Popen(
            [
                self.SERVER,
                "--no-defaults",
                f"--datadir={self.dir / 'data'}",
                f"--socket={self.dir / 'mysqld.sock'}",
                f"--pid-file={self.dir / 'mysqld.pid'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=2",
                *self._user(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the private MariaDB server exited: {self.log()}")
            return self.is_up()

        _wait(up, timeout, "the private MariaDB server")

    def _admin(self, *args: str) -> subprocess.CompletedProcess:
        command = ["mysqladmin", "--no-defaults", "-h127.0.0.1", f"-P{self.port}", "-uroot"]
        return subprocess.run([*command, *args], capture_output=True, text=True)

    def stop(self) -> None:
        self._admin("shutdown")
        if self.process is not None:
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def is_up(self) -> bool:
        return self._admin("status").returncode == 0

    def create_database(self) -> None:
        command = ["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{self.port}", "-uroot"]
        sql = f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        self._run([*command, "-e", sql])

    def settings(self) -> dict:
        return {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "USER": "root",
            "PASSWORD": "",
            "NAME": DATABASE,
        }


SERVERS = {"postgresql": PrivatePostgres, "mysql": PrivateMariaDB}

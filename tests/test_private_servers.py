"""Tests that restart a database server restart a private one, never the server in DATABASE_URL."""

import os
from urllib.parse import urlparse

import pytest
from django.db import connection

from django_jobs import enqueue
from django_jobs.models import Job
from tests.servers import SERVERS

pytestmark = [pytest.mark.outage, pytest.mark.django_db(transaction=True)]


def query(host, port, sql):
    """One value from the server at host:port, over a connection of its own."""
    url = urlparse(os.environ["DATABASE_URL"])
    if url.scheme.startswith("postgres"):
        import psycopg

        with psycopg.connect(host=host, port=port, user=url.username, dbname="postgres") as conn:
            return conn.execute(sql).fetchone()[-1]
    import MySQLdb

    conn = MySQLdb.connect(host=host, port=port, user=url.username, passwd=url.password or "")
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        row = cursor.fetchone()
        return row[-1] if row else None
    finally:
        conn.close()


def uptime(host, port):
    """Seconds the server at host:port has been running: it only grows until a restart."""
    if connection.vendor == "postgresql":
        sql = "SELECT extract(epoch FROM now() - pg_postmaster_start_time())"
    else:
        sql = "SHOW GLOBAL STATUS LIKE 'Uptime'"
    return float(query(host, port, sql))


def shared_server():
    url = urlparse(os.environ.get("DATABASE_URL", ""))
    return url.hostname or "127.0.0.1", url.port or (5432 if "postgres" in url.scheme else 3306)


def test_restart_database_restarts_a_private_server_and_leaves_the_shared_one(
    restart_database, private_database
):
    port = private_database.port
    assert int(connection.settings_dict["PORT"]) == port != shared_server()[1]
    shared_before = uptime(*shared_server())
    # A mark the private server forgets when it restarts, and only then.
    if connection.vendor == "postgresql":
        mark = "SELECT pg_postmaster_start_time()::text"
    else:
        query("127.0.0.1", port, "SET GLOBAL max_connections = 777")
        mark = "SELECT @@max_connections"
    before = query("127.0.0.1", port, mark)
    job = enqueue("noop")

    restart_database(down_for=0.2)

    assert query("127.0.0.1", port, mark) != before
    assert Job.objects.get(pk=job.pk).handler == "noop"  # the data survived the restart
    assert uptime(*shared_server()) >= shared_before


@pytest.mark.parametrize("vendor_name", sorted(SERVERS))
def test_a_private_server_is_gone_after_destroy(vendor_name):
    cls = SERVERS[vendor_name]
    if not cls.available():
        pytest.skip(f"no {vendor_name} binaries")
    server = cls()
    server.create()
    server.start()
    assert server.is_up()
    server.destroy()
    assert not server.is_up()
    assert not server.dir.exists()

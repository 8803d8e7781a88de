"""huey with its SQL storage (peewee) on PostgreSQL through psycopg 3; on SQLite its own
SQLite storage (``SqliteHuey``, WAL by default), the one its documentation offers for SQLite."""

from common import DB_NAME, PGHOST, PGPORT, PGUSER, SQLITE, record_start
from huey import SqliteHuey
from huey.contrib.sql_huey import SqlHuey

if SQLITE:
    huey = SqliteHuey("bench", filename=SQLITE)
else:
    huey = SqlHuey("bench", database=f"psycopg3://{PGUSER}@{PGHOST}:{PGPORT}/{DB_NAME}")


@huey.task()
def noop(i=None):
    record_start(i)

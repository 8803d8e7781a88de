"""huey with its SQL storage (peewee) on PostgreSQL through psycopg 3."""

from common import DB_NAME, PGHOST, PGPORT, PGUSER, SQLITE, record_start
from huey.contrib.sql_huey import SqlHuey

if SQLITE:
    url = f"sqlite:///{SQLITE}"
else:
    url = f"psycopg3://{PGUSER}@{PGHOST}:{PGPORT}/{DB_NAME}"
huey = SqlHuey("bench", database=url)


@huey.task()
def noop(i=None):
    record_start(i)

from common import record_start
from procrastinate.contrib.django import app


@app.task(name="noop")
def noop(i=None):
    record_start(i)

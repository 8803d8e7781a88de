from common import record_start


def noop(i=None):
    record_start(i)

"""Test settings with AUTO_START on, for web-server subprocesses."""

from .settings import *  # noqa: F403
from .settings import DJANGO_JOBS, LOGGING

DJANGO_JOBS = {**DJANGO_JOBS, "AUTO_START": True}
# "worker started" lines tell the tests how many workers a process ran.
LOGGING = {**LOGGING, "loggers": {"django_jobs": {"handlers": ["console"], "level": "INFO"}}}

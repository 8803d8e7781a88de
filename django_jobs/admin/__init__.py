"""The Django admin for jobs: see and steer everything through ``django_jobs.actions``."""

from django.contrib import admin

from ..models import Job, JobHistory
from .history import JobHistoryAdmin
from .jobs import JobAdmin

admin.site.register(Job, JobAdmin)
admin.site.register(JobHistory, JobHistoryAdmin)

__all__ = ["JobAdmin", "JobHistoryAdmin"]

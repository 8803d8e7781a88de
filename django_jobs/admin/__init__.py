"""The Django admin for jobs: see and steer everything through ``django_jobs.actions``."""

from django.contrib import admin

from ..models import Job, JobHistory, LimitKey
from .history import JobHistoryAdmin
from .jobs import JobAdmin
from .limits import LimitKeyAdmin

admin.site.register(Job, JobAdmin)
admin.site.register(JobHistory, JobHistoryAdmin)
admin.site.register(LimitKey, LimitKeyAdmin)

__all__ = ["JobAdmin", "JobHistoryAdmin", "LimitKeyAdmin"]

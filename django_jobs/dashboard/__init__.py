"""A live dashboard for jobs.

Mount it with ``path("dashboard/", include("django_jobs.dashboard.urls"))``.
"""

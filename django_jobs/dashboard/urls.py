"""Mount with ``path("dashboard/", include("django_jobs.dashboard.urls"))``."""

from django.urls import path

from . import actions, metrics, views

app_name = "django_jobs_dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("cards/", views.overview_cards, name="cards"),
    path("data.json", views.overview_data, name="data"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/bulk/", actions.bulk, name="bulk"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/<str:verb>/", actions.job_action, name="job-action"),
    path("recurring/", views.recurring, name="recurring"),
    path("workers/", views.workers, name="workers"),
    path("workers/table/", views.workers_table, name="workers-table"),
    path("workers/runner/", actions.runner, name="runner"),
    path("handlers/", views.handlers, name="handlers"),
    path("queues/", views.queues, name="queues"),
    path("failures/", views.failures, name="failures"),
    path("failures/retry/", actions.retry_failures, name="failures-retry"),
    path("metrics/", metrics.metrics, name="metrics"),
]

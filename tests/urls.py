from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("django_jobs.urls")),
    path("dashboard/", include("django_jobs.dashboard.urls")),
]

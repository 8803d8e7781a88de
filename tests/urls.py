from django.contrib import admin
from django.urls import include, path

from tests.testapp.views import signup

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("django_jobs.urls")),
    path("dashboard/", include("django_jobs.dashboard.urls")),
    path("async-signup/", signup),
]

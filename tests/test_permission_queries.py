"""Model permissions read in one query per request, with the answers Django's backend gives."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.permissions import BasePermission
from rest_framework.test import APIClient

from django_jobs.models import Job, JobHistory
from django_jobs.permissions import user_may

pytestmark = pytest.mark.django_db


def _perm(codename):
    return Permission.objects.get(content_type__app_label="django_jobs", codename=codename)


def _staff(name="s"):
    return get_user_model().objects.create_user(name, is_staff=True)


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def test_own_and_group_permissions_in_one_query():
    user = _staff()
    user.user_permissions.add(_perm("view_job"))
    group = Group.objects.create(name="g")
    group.permissions.add(_perm("delete_job"))
    user.groups.add(group)
    fresh = _fresh(user)
    with CaptureQueriesContext(connection) as queries:
        assert user_may(fresh, "view") and user_may(fresh, "delete")
        assert not user_may(fresh, "change")
    assert len(queries) == 1
    # The backend's own caches hold what it would have read itself.
    assert fresh._user_perm_cache == {"django_jobs.view_job"}
    assert fresh._group_perm_cache == {"django_jobs.delete_job"}
    assert fresh.get_all_permissions() == _fresh(user).get_all_permissions()


def test_a_revoked_permission_counts_from_the_next_request():
    user = _staff()
    user.user_permissions.add(_perm("view_job"))
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/jobs").status_code == 200
    user.user_permissions.clear()
    assert client.get("/api/jobs").status_code == 403
    group = Group.objects.create(name="viewers")
    group.permissions.add(_perm("view_job"))
    user.groups.add(group)
    assert client.get("/api/jobs").status_code == 200


def test_inactive_and_superusers():
    user = _staff()
    user.user_permissions.add(_perm("view_job"))
    user.is_active = False
    user.save()
    assert not user_may(_fresh(user), "view")
    boss = get_user_model().objects.create_superuser("boss", password="x")
    with CaptureQueriesContext(connection) as queries:
        assert user_may(_fresh(boss), "delete")
    assert len(queries) == 1  # the user itself; a superuser's permissions need no query


class OwnCaches(ModelBackend):
    """Fills the caches its own way: it is left to do so."""

    def _get_permissions(self, user_obj, obj, from_name):
        return {"django_jobs.view_job"} if from_name == "user" else set()


class EveryoneViews:
    def authenticate(self, request, **kwargs):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        return perm == "django_jobs.view_job"


def test_a_backend_with_its_own_caches_is_left_alone():
    user = _staff()
    with override_settings(AUTHENTICATION_BACKENDS=["tests.test_permission_queries.OwnCaches"]):
        fresh = _fresh(user)
        assert user_may(fresh, "view") and not user_may(fresh, "change")
        assert not hasattr(fresh, "_group_perm_cache")


def test_other_backends_are_still_asked():
    user = _staff()
    with override_settings(
        AUTHENTICATION_BACKENDS=[
            "django.contrib.auth.backends.ModelBackend",
            "tests.test_permission_queries.EveryoneViews",
        ]
    ):
        assert user_may(_fresh(user), "view")
        assert not user_may(_fresh(user), "change")


class RefusesObjects(BasePermission):
    def has_object_permission(self, request, view, obj):
        return False


def test_history_reads_its_job_when_needed():
    admin = get_user_model().objects.create_superuser("admin", password="x")
    client = APIClient()
    client.force_login(admin)
    job = Job.objects.create(name="j", handler="echo", status="completed")
    assert client.get(f"/api/jobs/{job.pk}/history").json()["results"] == []
    assert client.get(f"/api/jobs/{job.pk + 1000}/history").status_code == 404
    JobHistory.objects.create(job=job, status="completed")
    assert len(client.get(f"/api/jobs/{job.pk}/history").json()["results"]) == 1
    refusing = ["tests.test_permission_queries.RefusesObjects"]
    with override_settings(DJANGO_JOBS={"API_PERMISSION_CLASSES": refusing}):
        assert client.get(f"/api/jobs/{job.pk}/history").status_code == 403

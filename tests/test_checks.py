"""System checks: bad settings and declared schedules are reported by ``manage.py check``."""

import pytest
from django.core.checks import run_checks
from django.test import override_settings


def _ids(messages):
    return sorted({m.id for m in messages if m.id.startswith("django_jobs")})


def test_checks_pass_by_default():
    assert _ids(run_checks(tags=["compatibility"])) == []


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"HANDLERS": {"x": "no.such.module.fn"}}, ["django_jobs.E003"]),
        ({"POLL_INTERVAL": -1}, ["django_jobs.E002"]),
        ({"CONCURRENCY": "four"}, ["django_jobs.E002"]),
        ({"TYPO_KEY": 1}, ["django_jobs.W001"]),
        ({"WORKER_TIMEOUT": 1, "HEARTBEAT_INTERVAL": 2}, ["django_jobs.E005"]),
        ({"SCHEDULES": {"n": {"handler": "echo", "schedule": "61 * * * *"}}}, ["django_jobs.E004"]),
        ({"SCHEDULES": {"n": {"handler": "nope", "schedule": "* * * * *"}}}, ["django_jobs.E004"]),
        ({"SCHEDULES": {"n": "0 * * * *"}}, ["django_jobs.E004"]),
        ({"AUTO_START": "yes"}, ["django_jobs.E006"]),
        ({"RUNNER_ENABLED": 0}, ["django_jobs.E006"]),
    ],
)
def test_checks_catch_bad_settings(setting, expected):
    with override_settings(DJANGO_JOBS=setting):
        assert _ids(run_checks(tags=["compatibility"])) == expected


def test_settings_not_a_dict():
    with override_settings(DJANGO_JOBS=["nope"]):
        assert _ids(run_checks(tags=["compatibility"])) == ["django_jobs.E001"]


def _start_app():
    from django.apps import apps

    apps.get_app_config("django_jobs").ready()


def test_a_handlers_entry_that_cannot_load_is_reported_not_raised_at_start_up():
    with override_settings(DJANGO_JOBS={"HANDLERS": {"x": "no.such.module.fn"}}):
        _start_app()
        assert _ids(run_checks(tags=["compatibility"])) == ["django_jobs.E003"]


def test_any_other_error_loading_handlers_is_not_hidden_at_start_up():
    from django_jobs.exceptions import HandlerAlreadyRegistered

    # "echo" is the test app's handler: another function under its name is refused.
    with override_settings(DJANGO_JOBS={"HANDLERS": {"echo": "os.getcwd"}}):
        with pytest.raises(HandlerAlreadyRegistered):
            _start_app()

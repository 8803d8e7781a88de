import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_jobs import create_job_handler, handler
from django_jobs.exceptions import HandlerAlreadyRegistered, UnknownHandler
from django_jobs.registry import Registry, registry


def test_jobs_modules_of_installed_apps_are_discovered():
    assert "echo" in registry
    assert "noop" in registry
    assert registry.get("echo").description == "Return the data it was given."


def test_decorator_with_and_without_name():
    reg = Registry()

    def first(data):
        return 1

    def second(data, ctx):
        return 2

    reg.register(first.__name__, first)
    reg.register("custom", second)
    assert reg.get("first").handler is first
    assert reg.get("custom").takes_ctx
    assert not reg.get("first").takes_ctx


def test_public_decorator_registers_globally():
    @handler
    def registry_test_plain(data):
        return data

    @handler("registry-test-named")
    def other(data):
        return data

    try:
        assert registry.get("registry_test_plain").handler is registry_test_plain
        assert registry.get("registry-test-named").handler is other
    finally:
        registry.unregister("registry_test_plain")
        registry.unregister("registry-test-named")


def test_registering_another_function_under_a_taken_name_raises():
    reg = Registry()
    reg.register("x", lambda data: 1)
    with pytest.raises(HandlerAlreadyRegistered, match="'x'"):
        reg.register("x", print)


def test_registering_the_same_function_twice_is_harmless():
    reg = Registry()

    def fn(data):
        return data

    reg.register("x", fn)
    reg.register("x", fn)
    assert reg.names() == ["x"]


def test_create_job_handler_returns_name_and_handler():
    def fn(data):
        return data

    made = create_job_handler("made", fn)
    assert made.name == "made"
    assert made.handler is fn
    assert "made" not in registry
    with pytest.raises(TypeError):
        create_job_handler("x", 42)
    with pytest.raises(ValueError):
        create_job_handler("", fn)


def test_unknown_handler():
    with pytest.raises(UnknownHandler):
        registry.get("does-not-exist")


def test_handlers_setting_accepts_callables_and_dotted_paths():
    reg = Registry()
    reg.load_setting({"a": "tests.testapp.jobs.echo", "b": lambda data: data})
    assert reg.names() == ["a", "b"]


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

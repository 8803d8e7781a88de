import pytest

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

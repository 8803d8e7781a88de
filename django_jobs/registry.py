"""The handler registry: a dict from stable names to callables.

Only functions registered here can ever run; a handler name that arrives in
a request or a database row is looked up, never imported.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from django.utils.module_loading import import_string

from .exceptions import HandlerAlreadyRegistered, UnknownHandler

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class JobHandler:
    """A registered handler; ``takes_ctx`` and ``is_async`` are worked out once."""

    name: str
    handler: Callable[..., Any]
    # The named limit of DJANGO_JOBS["LIMITS"] its jobs carry ("" for none).
    limit: str = ""
    takes_ctx: bool = field(init=False)
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "takes_ctx", _takes_second_argument(self.handler))
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.handler))

    @property
    def description(self) -> str:
        return inspect.getdoc(self.handler) or ""


def _takes_second_argument(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def create_job_handler(name: str, fn: Callable[..., Any], *, limit: str = "") -> JobHandler:
    """Wrap ``fn`` as a named handler without registering it."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a handler name must be a non-empty string")
    if not callable(fn):
        raise TypeError(f"handler {name!r} must be callable, got {type(fn).__name__}")
    if not isinstance(limit, str):
        raise TypeError(f"handler {name!r}: limit must be the name of a limit, got {limit!r}")
    return JobHandler(name=name, handler=fn, limit=limit)


class Registry:
    """Handlers by name. Registering another function under a taken name raises."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._lock = threading.Lock()

    def register(self, name: str, fn: Callable[..., Any], *, limit: str = "") -> JobHandler:
        entry = create_job_handler(name, fn, limit=limit)
        with self._lock:
            existing = self._handlers.get(name)
            if existing is not None:
                if _same_function(existing.handler, fn):
                    if existing.limit != limit:
                        self._handlers[name] = entry
                        return entry
                    return existing
                raise HandlerAlreadyRegistered(
                    f"handler {name!r} is already registered to "
                    f"{_qualname(existing.handler)}; cannot register {_qualname(fn)}"
                )
            self._handlers[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        with self._lock:
            self._handlers.pop(name, None)

    def get(self, name: str) -> JobHandler:
        try:
            return self._handlers[name]
        except (KeyError, TypeError):
            raise UnknownHandler(name) from None

    def limit_of(self, name: str) -> str:
        """The limit a handler's jobs carry ("" for none, or for an unknown handler)."""
        entry = self._handlers.get(name)
        return entry.limit if entry is not None else ""

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def all(self) -> list[JobHandler]:
        return [self._handlers[name] for name in self.names()]

    def load_setting(self, handlers: dict[str, Any]) -> None:
        """Register the ``HANDLERS`` setting: callables or dotted paths, imported here."""
        for name, target in handlers.items():
            fn = import_string(target) if isinstance(target, str) else target
            self.register(name, fn)


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    # A module imported twice (runserver reloads, test collection) re-creates
    # its functions; the same qualified name is the same handler.
    return a is b or _qualname(a) == _qualname(b)


def _qualname(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "?")
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


registry = Registry()


@overload
def handler(name: F) -> F: ...
@overload
def handler(name: str | None = None, *, limit: str = "") -> Callable[[F], F]: ...


def handler(name: Any = None, *, limit: str = "") -> Any:
    """Register a function as a job handler: ``@handler``, ``@handler("name")``.

    ``limit`` names a limit of ``DJANGO_JOBS["LIMITS"]`` that every job of the
    handler carries unless ``enqueue(limit=...)`` says otherwise.
    """
    if callable(name):
        registry.register(name.__name__, name)
        return name

    def decorate(fn: F) -> F:
        registry.register(name or fn.__name__, fn, limit=limit)
        return fn

    return decorate

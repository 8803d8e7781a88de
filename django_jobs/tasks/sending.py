"""Whether sending one of Django's task signals can do anything.

The framework connects its own receivers, which only log (``log_task_started``
and the like, on the framework's logger). Building a ``TaskResult`` and sending
it to them when that logger is off for the level is work that nothing sees,
twice an attempt; with any other receiver connected, or the logger on, the
signal is sent as Django sends it.
"""

from __future__ import annotations

from typing import Any

from .compat import framework_signals

_LOGGER = framework_signals.logger
_OWN = frozenset(
    id(getattr(framework_signals, name))
    for name in ("log_task_enqueued", "log_task_started", "log_task_finished")
    if hasattr(framework_signals, name)
)


def worth_sending(signal: Any, level: int) -> bool:
    """A receiver other than the framework's logging, or that logging on at ``level``."""
    receivers = signal.receivers
    if not receivers:
        return False
    for entry in receivers:
        try:
            if entry[0][0] not in _OWN:  # the receiver's id, as Signal.connect keys it
                return True
        except (TypeError, IndexError):
            return True
    return _LOGGER.isEnabledFor(level)

"""Making a handler's output storable on every database before it is written.

PostgreSQL refuses NUL in text and JSON, and no driver can encode a lone
surrogate (``"\\ud800"``); MariaDB's JSON check refuses one escaped, too.
Such characters are replaced with U+FFFD, and the history row gets a note
saying so: the run's other output is kept and the outcome can be written.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_BAD = re.compile("[\x00\ud800-\udfff]")
# What JSON text (ensure_ascii) of a value holding a NUL or a surrogate contains.
_ESCAPED = re.compile(r"\\u(0000|d[89a-f])", re.IGNORECASE)


def storable_text(text: str) -> tuple[str, str]:
    """``text`` with NUL and lone surrogates replaced, and a note ("" when none was)."""
    if text.isascii() and "\x00" not in text:
        return text, ""
    found = _BAD.findall(text)
    if not found:
        return text, ""
    return _BAD.sub(REPLACEMENT, text), _note(found)


def storable_result(value: Any) -> tuple[Any, str]:
    """What a handler returned, as JSON every database stores, and a note ("" when unchanged).

    A value JSON cannot hold (an object, ``nan``, nesting deeper than the
    encoder goes, an integer too long to print) is stored as its text with a
    note saying why. Its JSON text is scanned once, so ordinary results cost
    one ``json.dumps`` and one search.
    """
    if value is None or isinstance(value, bool) or type(value) in (int, float):
        return _plain(value)
    if isinstance(value, str):
        return storable_text(value)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        shown = storable_text(_safe_repr(value))[0]
        return {"repr": shown, "note": f"result is not JSON-serialisable: {exc}"}, ""
    if not _ESCAPED.search(text):
        return value, ""
    found: list[str] = []
    cleaned = _walk(value, found)
    return cleaned, _note(found) if found else ""


def _plain(value: Any) -> tuple[Any, str]:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:  # nan, inf, or an integer too long to print
        return {"repr": _safe_repr(value), "note": f"result is not JSON-serialisable: {exc}"}, ""
    return value, ""


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:10_000]
    except Exception as exc:  # a huge integer, a broken __repr__
        return f"<{type(value).__name__} that cannot be shown: {exc}>"[:10_000]


def _walk(value: Any, found: list[str]) -> Any:
    """Rebuild containers without recursion, so depth is no limit here."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, str):
            parent[slot] = _clean(item, found)
        elif isinstance(item, dict):
            new: dict[str, Any] = {}
            parent[slot] = new
            for key, child in item.items():
                clean_key = _clean(key, found) if isinstance(key, str) else key
                new[clean_key] = None
                stack.append((child, new, clean_key))
        elif isinstance(item, (list, tuple)):
            new_list: list[Any] = [None] * len(item)
            parent[slot] = new_list
            stack.extend((child, new_list, i) for i, child in enumerate(item))
        else:
            parent[slot] = item
    return root[0]


def _clean(text: str, found: list[str]) -> str:
    bad = _BAD.findall(text)
    if not bad:
        return text
    found.extend(bad)
    return _BAD.sub(REPLACEMENT, text)


def _note(found: list[str]) -> str:
    kinds = []
    if "\x00" in found:
        kinds.append("NUL")
    if any(char != "\x00" for char in found):
        kinds.append("lone surrogate")
    return (
        f"note: {len(found)} character(s) no database can store ({' and '.join(kinds)}) "
        f"were replaced with U+FFFD"
    )

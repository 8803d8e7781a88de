"""The API's JSON parser: DRF's, with the body's nesting bounded before it is parsed.

``json`` recurses once per level, so a 2 KB body of ``[[[[...`` would reach
the interpreter's recursion limit. A body nested deeper than ``BODY_DEPTH_MAX``
is a 400 before any parsing; ``data`` itself is held to the shallower
``validation.DATA_DEPTH_MAX`` by the data rule, with a message on the field.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from ..validation import DATA_DEPTH_MAX, json_too_deep

# data's own levels, plus a bulk request's list and each item's object, with room to spare
BODY_DEPTH_MAX = 2 * DATA_DEPTH_MAX + 2


class BoundedJSONParser(JSONParser):
    """Strict JSON (no ``NaN``), at most ``BODY_DEPTH_MAX`` levels deep."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = _text_encoding(parser_context or {})
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding} text: {exc}")
        if json_too_deep(text, BODY_DEPTH_MAX):
            raise ParseError(f"JSON parse error - nested more than {BODY_DEPTH_MAX} levels deep")
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:  # malformed, or an integer too long to convert
            raise ParseError(f"JSON parse error - {exc}")


def _text_encoding(parser_context: Any) -> str:
    """The body's charset; only a text codec (``bz2_codec`` would inflate a small body)."""
    encoding = parser_context.get("encoding") or settings.DEFAULT_CHARSET
    try:
        "".encode(encoding)
    except (LookupError, UnicodeError):
        raise ParseError(f"Unsupported charset {encoding!r} in the Content-Type header.")
    return str(encoding)

"""Serializer fields that check input with the ``validation.clean_*`` rules.

Typed like DRF's own fields (so the OpenAPI schema is right) but the value
goes through the same function the Python API uses, so a bad value gets the
same message everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from ..conf import jobs_settings
from ..exceptions import InvalidJob
from ..validation import clean_data, clean_run_at


class CleanedMixin:
    """Replace DRF's conversion with a ``clean_*`` function raising ``InvalidJob``.

    ``schema`` holds the OpenAPI keywords that say what the clean function
    accepts beyond DRF's own (``minLength``, ``pattern``, an exclusive
    minimum), or a function returning them when they follow a setting; the
    schema extension in ``schema.py`` adds them.
    """

    def __init__(
        self,
        *,
        clean: Callable[[Any], Any],
        schema: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        self.clean = clean
        self.schema_keywords = schema
        super().__init__(**kwargs)  # type: ignore[call-arg]

    def openapi_keywords(self) -> dict[str, Any]:
        keywords = self.schema_keywords
        return dict(keywords() if callable(keywords) else keywords or {})

    def to_internal_value(self, data: Any) -> Any:
        try:
            return self.clean(data)
        except InvalidJob as exc:
            raise serializers.ValidationError(exc.message) from None


class CleanedCharField(CleanedMixin, serializers.CharField):
    def run_validation(self, data: Any = empty) -> Any:
        # Skip CharField's blank handling: the clean function judges blanks.
        return serializers.Field.run_validation(self, data)


class CleanedIntegerField(CleanedMixin, serializers.IntegerField):
    pass


class CleanedListField(CleanedMixin, serializers.ListField):
    pass


class CleanedFloatField(CleanedMixin, serializers.FloatField):
    pass


class DataField(serializers.JSONField):
    """Any JSON value, at most ``DJANGO_JOBS["MAX_DATA_BYTES"]`` once encoded."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return clean_data(data, limit=int(jobs_settings.MAX_DATA_BYTES))
        except InvalidJob as exc:
            raise serializers.ValidationError(exc.message) from None


class InstantField(serializers.DateTimeField):
    """An ISO 8601 instant; without an offset it names no instant, so it is refused."""

    def enforce_timezone(self, value: datetime) -> datetime:
        try:
            clean_run_at(value)
        except InvalidJob as exc:
            raise serializers.ValidationError(exc.message) from None
        return super().enforce_timezone(value)

"""drf-spectacular decorators when it is installed, harmless stand-ins when it is not.

The OpenAPI extra is optional: the API must import and work without it.
"""

from __future__ import annotations

from typing import Any

try:
    from drf_spectacular.extensions import (
        OpenApiSerializerExtension,
        OpenApiSerializerFieldExtension,
    )
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import (
        OpenApiParameter,
        OpenApiResponse,
        extend_schema,
        extend_schema_field,
        extend_schema_view,
        inline_serializer,
    )

    class StrictSerializerExtension(OpenApiSerializerExtension):
        """Request bodies that refuse unknown keys say so: ``additionalProperties: false``."""

        target_class = "django_jobs.api.serializers.StrictSerializer"
        match_subclasses = True

        def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
            schema = auto_schema._map_basic_serializer(self.target, direction)
            schema["additionalProperties"] = False
            return schema

    class CleanedFieldExtension(OpenApiSerializerFieldExtension):
        """Fields checked by a ``clean_*`` rule describe what that rule accepts."""

        target_class = "django_jobs.api.fields.CleanedMixin"
        match_subclasses = True

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
            schema = auto_schema._map_serializer_field(self.target, direction, True)
            return {**schema, **self.target.openapi_keywords()}

except ImportError:  # exercised by tests/test_without_openapi.py in a subprocess

    class _TypeNames:
        """``OpenApiTypes.OBJECT`` and the like as plain names: only a schema would read them."""

        def __getattr__(self, name: str) -> str:
            if name.startswith("_"):
                raise AttributeError(name)
            return name

    OpenApiTypes = _TypeNames()  # type: ignore[assignment,misc]

    def _passthrough(*args: Any, **kwargs: Any) -> Any:
        return lambda target: target

    extend_schema = extend_schema_field = extend_schema_view = _passthrough  # type: ignore[assignment,unused-ignore]

    class OpenApiParameter:  # type: ignore[no-redef]
        QUERY = "query"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

    class OpenApiResponse:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

    def inline_serializer(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc,unused-ignore]
        return None


__all__ = [
    "OpenApiParameter",
    "OpenApiResponse",
    "OpenApiTypes",
    "extend_schema",
    "extend_schema_field",
    "extend_schema_view",
    "inline_serializer",
]

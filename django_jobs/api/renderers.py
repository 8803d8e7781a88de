"""The API's JSON renderer: DRF's, answering JSON even when an answer holds no Unicode.

An error message may echo the request (an unknown key), and a JSON body can
spell a lone surrogate (``"\\ud800"``) that UTF-8 cannot encode. Such an answer
is rendered with every non-ASCII character escaped instead of failing with a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer


class _ASCIIJSONRenderer(JSONRenderer):
    ensure_ascii = True


class JobsJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _ASCIIJSONRenderer().render(data, accepted_media_type, renderer_context)


def with_safe_json(renderers: list[Any]) -> list[Any]:
    """The project's renderers, DRF's JSON renderer replaced by ``JobsJSONRenderer``."""
    return [JobsJSONRenderer() if type(r) is JSONRenderer else r for r in renderers]

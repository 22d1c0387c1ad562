"""The API's JSON parser: DRF's, with the body's shape bounded before any view sees it.

Nesting deeper than ``API_JSON_MAX_DEPTH`` (json itself would raise RecursionError near 1,000
levels, and every later walk of the data would too) and lone UTF-16 surrogates (``"\\ud800"``
parses to a str that cannot be encoded, so hashing, storing or rendering it fails) are a 400
``parse_error`` with the API's envelope.
"""

import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_deep() -> ParseError:
    return ParseError(
        _("The JSON body is nested deeper than %(n)d levels.") % {"n": settings.API_JSON_MAX_DEPTH}
    )


def json_shape_check(data, *, max_depth: int) -> None:
    """Raise ParseError if ``data`` nests deeper than ``max_depth`` containers or holds a lone
    surrogate in a key or a string. Iterative: a deep value cannot exhaust the stack here."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ParseError(_("The JSON body contains a lone surrogate, which is not text."))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise _too_deep()
        items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
        for key, item in items:
            if key is not None:
                stack.append((key, depth))
            stack.append((item, depth + 1))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        json_shape_check(data, max_depth=settings.API_JSON_MAX_DEPTH)
        return data

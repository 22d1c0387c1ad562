"""The one text rule at the domain boundary: stored text holds no C0 control characters.

A bell, a NUL or an escape character in a name is never meant; it breaks exports (XLSX cannot
hold it), PostgreSQL refuses NUL outright, and it is invisible on every page that shows it. So
every service that stores text refuses control characters other than tab and newline, as a
field problem in the user's language. Carriage return is allowed in multi-line text only
(browsers send a textarea's line breaks as CR LF); in a one-line field it is refused like the
rest. Exports still strip what a format cannot hold (``apps.core.exports``), for rows stored
before this rule.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from .content import translated_fields
from .exceptions import ValidationFailed

# C0 controls except tab (09) and line feed (0A); carriage return (0D) is handled per field.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_OR_CR_RE = re.compile(r"[\x00-\x08\x0b-\x1f]")


def text_problem(value: Any, *, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as stored text, or None. Anything but a string is fine here
    (types are the form's and the serializer's business)."""
    if not isinstance(value, str):
        return None
    found = (_CONTROL_RE if multiline else _CONTROL_OR_CR_RE).search(value)
    if found is None:
        return None
    return _(
        "This text contains an invisible control character (U+%(code)s) that cannot be stored; "
        "remove it."
    ) % {"code": f"{ord(found.group()):04X}"}


def text_problems(
    data: Mapping[str, Any], fields: Iterable[str], *, multiline: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """``(field, message)`` pairs for the ``fields`` of ``data`` that break the rule; the fields
    named in ``multiline`` may also hold carriage returns."""
    multiline = set(multiline)
    problems = []
    for field in fields:
        if field in data and (message := text_problem(data[field], multiline=field in multiline)):
            problems.append((field, message))
    return problems


def instance_text_problems(
    instance: models.Model, *, names: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """``text_problems`` for the text columns of a model instance (a ``TextField`` is
    multi-line): all of them, or those in ``names`` (what a change sets, so a row stored
    before the rule can still be changed elsewhere)."""
    wanted = None if names is None else set(names)
    # A translated field's text lives in its per-language columns (``name_en``, …), which the
    # forms show: judge those, not the column that mirrors one of them.
    mirrors = set(translated_fields(type(instance)))
    fields = [
        f
        for f in instance._meta.concrete_fields
        if isinstance(f, (models.CharField, models.TextField))
        and f.name not in mirrors
        and (wanted is None or f.name in wanted)
    ]
    values = {f.name: getattr(instance, f.attname) for f in fields}
    multiline = [f.name for f in fields if isinstance(f, models.TextField)]
    return text_problems(values, [f.name for f in fields], multiline=multiline)


def text_check(*, multiline: Iterable[str] = (), **fields: Any) -> None:
    """Refuse the first field that breaks the rule as ``ValidationFailed`` on that field."""
    if problems := text_problems(fields, list(fields), multiline=multiline):
        field, message = problems[0]
        raise ValidationFailed(message, field=field)

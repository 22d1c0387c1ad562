"""The business calendar document and its checks, in one place (the import command, the staff
page, the admin and the demo all pass through ``calendar_document_clean``)::

    {"code": "cn-2027", "name": "Mainland China 2027", "timezone": "Asia/Shanghai",
     "hours": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": []},
     "holidays": ["2027-01-01"], "workdays": ["2027-02-14"]}

Days missing from ``hours`` are closed. Times are "HH:MM" from "00:00" to "24:00" (the end of
the day); a day's intervals must not overlap. A date cannot be both a holiday and a make-up
working day. ``name`` may also be ``{"en": ..., "zh-hans": ...}``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from typing import Any

from django.utils.translation import gettext as _

from .exceptions import ValidationFailed

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(\d{2}):(\d{2})$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _refuse(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{path}: {message}", field=path.split(".")[0].split("[")[0])


def _minutes(value: Any, path: str) -> int:
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        raise _refuse(path, _('%(value)r is not a time like "09:00".') % {"value": value})
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise _refuse(path, _("%(value)r is not a time of day.") % {"value": value})
    return hours * 60 + minutes


def _hours(value: Any) -> dict[str, list[list[str]]]:
    if not isinstance(value, dict):
        raise _refuse("hours", _('expected an object of days, e.g. {"mon": [["09:00", "18:00"]]}.'))
    out: dict[str, list[list[str]]] = {}
    for day, intervals in value.items():
        if day not in DAYS:
            raise _refuse(f"hours.{day}", _("unknown day; use mon, tue, wed, thu, fri, sat, sun."))
        if not isinstance(intervals, list):
            raise _refuse(f"hours.{day}", _("expected a list of [start, end] pairs."))
        spans = []
        for i, pair in enumerate(intervals):
            path = f"hours.{day}[{i}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise _refuse(path, _("expected a [start, end] pair."))
            start, end = _minutes(pair[0], path), _minutes(pair[1], path)
            if end <= start:
                raise _refuse(
                    path,
                    _("%(start)s–%(end)s ends before it starts.")
                    % {"start": pair[0], "end": pair[1]},
                )
            spans.append((start, end, [pair[0], pair[1]]))
        spans.sort()
        for (_s1, e1, p1), (s2, _e2, p2) in itertools.pairwise(spans):
            if s2 < e1:
                raise _refuse(
                    f"hours.{day}",
                    _("%(a)s and %(b)s overlap.") % {"a": "–".join(p1), "b": "–".join(p2)},
                )
        out[day] = [p for _s, _e, p in spans]
    return {day: out[day] for day in DAYS if day in out}


def _dates(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _refuse(name, _('expected a list of dates like "2027-01-01".'))
    out = set()
    for i, item in enumerate(value):
        try:
            out.add(dt.date.fromisoformat(item).isoformat())
        except (TypeError, ValueError):
            raise _refuse(
                f"{name}[{i}]", _('%(value)r is not a date like "2027-01-01".') % {"value": item}
            ) from None
    return sorted(out)


def timezone_clean(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _refuse("timezone", _('expected a time zone name like "Asia/Shanghai".'))
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _refuse("timezone", _("unknown time zone %(value)r.") % {"value": value}) from None
    return value


def calendar_document_clean(document: Any) -> dict[str, Any]:
    """The document checked and normalised (days in week order, intervals sorted, dates
    sorted and unique), or ``ValidationFailed`` naming the first problem's path."""
    if not isinstance(document, dict):
        raise ValidationFailed(_("A calendar is a JSON object."))
    code = document.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise _refuse("code", _('expected lower-case letters, digits and dashes, e.g. "cn-2027".'))
    name = document.get("name") or code
    if isinstance(name, dict):
        names = {k: v for k, v in name.items() if k in ("en", "zh-hans") and isinstance(v, str)}
        if not names:
            raise _refuse("name", _('expected a text, or {"en": ..., "zh-hans": ...}.'))
        name = names
    elif not isinstance(name, str) or len(name) > 120:
        raise _refuse("name", _("expected a text of at most 120 characters."))
    unknown = set(document) - {"code", "name", "timezone", "hours", "holidays", "workdays"}
    if unknown:
        raise _refuse(sorted(unknown)[0], _("unknown key."))
    holidays = _dates(document.get("holidays"), "holidays")
    workdays = _dates(document.get("workdays"), "workdays")
    if both := sorted(set(holidays) & set(workdays)):
        raise _refuse("workdays", _("%(date)s is also a holiday.") % {"date": both[0]})
    return {
        "code": code,
        "name": name,
        "timezone": timezone_clean(document.get("timezone", "Asia/Shanghai")),
        "hours": _hours(document.get("hours", {})),
        "holidays": holidays,
        "workdays": workdays,
    }

"""Business calendars in and out: one JSON document shape (``calendar_rules``) for the import
command, the staff page and the demo; every change audited (invariant 8)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from .calendar_rules import calendar_document_clean
from .exceptions import ValidationFailed
from .models import BusinessCalendar
from .services import audit_record


def _names(name: Any) -> dict[str, str]:
    if isinstance(name, dict):
        return {"name_en": name.get("en", ""), "name_zh_hans": name.get("zh-hans", "")}
    return {"name_en": name, "name_zh_hans": ""}


@transaction.atomic
def calendar_import(*, document: Any, actor=None) -> tuple[BusinessCalendar, bool]:
    """Create or replace the calendar named by ``document["code"]``; (calendar, created)."""
    doc = calendar_document_clean(document)
    names = _names(doc["name"])
    if not (names["name_en"] or names["name_zh_hans"]):
        raise ValidationFailed(_("name: a calendar needs a name."), field="name")
    calendar = BusinessCalendar.objects.select_for_update().filter(code=doc["code"]).first()
    before = calendar_export(calendar) if calendar else None
    created = calendar is None
    calendar = calendar or BusinessCalendar(code=doc["code"])
    calendar.timezone = doc["timezone"]
    calendar.hours = doc["hours"]
    calendar.holidays = doc["holidays"]
    calendar.workdays = doc["workdays"]
    for field, value in names.items():
        setattr(calendar, field, value or names["name_en"] or names["name_zh_hans"])
    calendar.name = calendar.name_en or calendar.name_zh_hans
    calendar.save()
    audit_record(
        actor=actor,
        action="core.calendar_imported",
        target=calendar,
        summary=f"{calendar.code}: {len(doc['holidays'])} holidays, "
        f"{len(doc['workdays'])} make-up days",
        before=before,
        after=calendar_export(calendar),
    )
    return calendar, created


def calendar_export(calendar: BusinessCalendar) -> dict[str, Any]:
    """The calendar as its JSON document (importing it again changes nothing)."""
    return {
        "code": calendar.code,
        "name": {"en": calendar.name_en or "", "zh-hans": calendar.name_zh_hans or ""},
        "timezone": calendar.timezone,
        "hours": calendar.hours,
        "holidays": list(calendar.holidays),
        "workdays": list(calendar.workdays),
    }

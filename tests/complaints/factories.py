"""Factories for complaints. ``office_calendar()`` is Mon–Fri 09:00–12:00 and 13:00–18:00 in
Shanghai with one holiday (Thu 2026-10-01) and one make-up Sunday (2026-10-11)."""

import factory

from apps.complaints.models import Category, SLAPolicy, Team
from apps.core.models import BusinessCalendar

OFFICE_HOURS = {
    day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
}


def office_calendar(code: str = "office") -> BusinessCalendar:
    calendar, _ = BusinessCalendar.objects.get_or_create(
        code=code,
        defaults={
            "name": "Office",
            "timezone": "Asia/Shanghai",
            "hours": OFFICE_HOURS,
            "holidays": ["2026-10-01"],
            "workdays": ["2026-10-11"],
        },
    )
    return calendar


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"category-{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")
    name_zh_hans = factory.Sequence(lambda n: f"类别 {n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"team-{n}")
    name_en = factory.Sequence(lambda n: f"Team {n}")
    name_zh_hans = factory.Sequence(lambda n: f"小组 {n}")


class SLAPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAPolicy

    name_en = factory.Sequence(lambda n: f"Policy {n}")
    name_zh_hans = factory.Sequence(lambda n: f"服务标准 {n}")
    calendar = factory.LazyFunction(office_calendar)
    first_response_minutes = 60
    resolution_minutes = 8 * 60

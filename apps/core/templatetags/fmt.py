"""Template filters for locale-correct amounts, numbers, phones and times (``{% load fmt %}``);
the rules live in :mod:`apps.core.formatting`."""

from django import template
from django.utils.html import format_html

from apps.core import formatting
from apps.core.audit import action_label

register = template.Library()


@register.filter
def money(value, arg: str = ""):
    """``{{ amount|money }}`` → ¥1,234.50; ``{{ amount|money:"trim" }}`` → ¥30 for whole
    amounts; ``"whole"`` rounds to the unit, ``"exact"`` keeps up to four decimals, ``"signed"``
    adds a plus to positive amounts (combine with commas: ``"trim,signed"``)."""
    options = set(filter(None, arg.split(",")))
    return formatting.money(
        value,
        trim="trim" in options,
        signed="signed" in options,
        whole="whole" in options,
        exact="exact" in options,
    )


@register.filter
def number(value, places: int = 0):
    """``{{ count|number }}`` → 12,345; ``{{ rate|number:1 }}`` → 12.5."""
    return formatting.number(value, places=int(places))


@register.filter
def signed_number(value):
    """+120 / −32 for point movements."""
    return formatting.number(value, signed=True)


@register.filter
def points(value):
    """1,234 points / 1,234 积分."""
    return formatting.points(value)


@register.filter
def phone(value):
    """+86 132 9080 9573."""
    return formatting.phone_display(value or "")


@register.filter
def tel(value):
    """The ``tel:`` URI of a stored number."""
    return formatting.phone_uri(value or "")


@register.filter
def phone_link(value):
    """A ``tel:`` link showing the grouped number; empty for no number."""
    if not value:
        return ""
    return format_html(
        '<a href="{}" class="text-nowrap">{}</a>',
        formatting.phone_uri(value),
        formatting.phone_display(value),
    )


@register.filter
def since(value):
    """3 days ago / 3天前; the date itself beyond a month."""
    return formatting.since(value)


@register.filter
def audit_action(code):
    """An audit action in words ("Points adjusted"), never its code."""
    return action_label(code or "")


@register.filter
def display(obj, field_name: str):
    """``{{ order|display:"status" }}``: what ``order.get_status_display`` gives, read from a
    table of the field's labels per language (``get_…_display`` translates every label of the
    field on each call; in a loop of fifty rows that adds up)."""
    return formatting.field_display(obj, field_name)

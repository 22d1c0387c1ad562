"""Role checks for templates: ``{% load roles %}`` then ``{% if user|is_administrator %}``."""

from django import template

from apps.accounts import roles

register = template.Library()


@register.filter
def is_administrator(user) -> bool:
    """Whether the Django admin is this user's (the same rule as the admin site itself)."""
    return roles.is_administrator(user)

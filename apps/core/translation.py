"""Shared-kernel content in both languages (django-modeltranslation)."""

from modeltranslation.translator import TranslationOptions, register

from .models import BusinessCalendar


@register(BusinessCalendar)
class BusinessCalendarTranslation(TranslationOptions):
    fields = ("name",)

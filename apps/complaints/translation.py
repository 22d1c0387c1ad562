"""Complaint configuration staff write in both languages (django-modeltranslation): members
read category names, staff read team and policy names and saved replies in their language,
falling back to the other when a text is empty."""

from modeltranslation.translator import TranslationOptions, register

from .models import Category, SavedReply, SLAPolicy, Team


@register(Category)
class CategoryTranslation(TranslationOptions):
    fields = ("name",)


@register(Team)
class TeamTranslation(TranslationOptions):
    fields = ("name",)


@register(SLAPolicy)
class SLAPolicyTranslation(TranslationOptions):
    fields = ("name",)


@register(SavedReply)
class SavedReplyTranslation(TranslationOptions):
    fields = ("title", "body")

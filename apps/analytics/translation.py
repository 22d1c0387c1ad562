"""Segment names and descriptions are written by marketing in both languages
(django-modeltranslation), and read in the reader's language with the other as fallback."""

from modeltranslation.translator import TranslationOptions, register

from .models import Segment


@register(Segment)
class SegmentTranslation(TranslationOptions):
    fields = ("name", "description")

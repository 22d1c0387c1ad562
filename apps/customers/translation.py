"""Content in both languages (django-modeltranslation): store names members see on receipts and
in their points history, and inbox messages (staff and campaigns write both; the system renders
its own in each language)."""

from modeltranslation.translator import TranslationOptions, register

from .models import PortalMessage, Store


@register(Store)
class StoreTranslation(TranslationOptions):
    fields = ("name",)


@register(PortalMessage)
class PortalMessageTranslation(TranslationOptions):
    fields = ("subject", "body")

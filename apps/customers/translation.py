"""Content in both languages (django-modeltranslation): store names members see on receipts and
in their points history, tag labels, and inbox messages (staff and campaigns write both; the
system renders its own in each language)."""

from modeltranslation.translator import TranslationOptions, register

from .models import PortalMessage, Store, Tag


@register(Store)
class StoreTranslation(TranslationOptions):
    fields = ("name",)


@register(PortalMessage)
class PortalMessageTranslation(TranslationOptions):
    fields = ("subject", "body")


@register(Tag)
class TagTranslation(TranslationOptions):
    # The label, not the name: the name stays the one identifier imports and the API match.
    fields = ("label",)

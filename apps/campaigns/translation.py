"""Campaign names and content are written by marketing in both languages
(django-modeltranslation); each member receives the version in their preferred language."""

from modeltranslation.translator import TranslationOptions, register

from .models import Campaign, Variant


@register(Campaign)
class CampaignTranslation(TranslationOptions):
    fields = ("name",)


@register(Variant)
class VariantTranslation(TranslationOptions):
    fields = ("subject", "body", "sms_body")

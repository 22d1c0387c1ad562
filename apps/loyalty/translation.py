"""Programme content members read, in both languages (django-modeltranslation): each field below
gets ``<field>_en`` and ``<field>_zh_hans`` columns; reading ``reward.name`` gives the active
language's text, falling back to the other when it is empty."""

from modeltranslation.translator import TranslationOptions, register

from .models import Badge, CouponBatch, EarnRule, Programme, Reward, Tier


@register(Programme)
class ProgrammeTranslation(TranslationOptions):
    fields = ("name",)


@register(Tier)
class TierTranslation(TranslationOptions):
    fields = ("name", "benefits")


@register(EarnRule)
class EarnRuleTranslation(TranslationOptions):
    fields = ("name",)


@register(Reward)
class RewardTranslation(TranslationOptions):
    fields = ("name", "description")


@register(Badge)
class BadgeTranslation(TranslationOptions):
    fields = ("name", "description")


@register(CouponBatch)
class CouponBatchTranslation(TranslationOptions):
    fields = ("name",)

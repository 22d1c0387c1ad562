from decimal import Decimal

import factory

from apps.loyalty.models import Badge, EarnRule, Programme, Reward, Tier


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme

    pending_days = 14
    expiry_policy = "rolling"
    expiry_months = 12


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("slug",)

    name = factory.LazyAttribute(lambda o: o.slug.title())
    slug = factory.Sequence(lambda n: f"tier{n}")
    rank = factory.Sequence(lambda n: n)
    threshold = Decimal(0)
    retention_threshold = Decimal(0)


class EarnRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EarnRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = "category"
    multiplier = Decimal(2)


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    name = factory.Sequence(lambda n: f"Reward {n}")
    slug = factory.Sequence(lambda n: f"reward-{n}")
    kind = "physical"
    cost_points = 100


class BadgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Badge
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"badge-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    rule = "orders_count"
    threshold = 1

"""The text rule (apps.core.text) in the loyalty services: names, descriptions, benefits, batch
names and adjustment reasons with a control character are refused on their field, and nothing
is written."""

from decimal import Decimal

import pytest

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.models import Badge, CouponBatch, EarnRule, PointsAdjustment, Reward, Tier
from apps.loyalty.services import coupon_batch_create, points_adjust, tier_create
from apps.loyalty.services.badges import badge_create
from apps.loyalty.services.configuration import (
    earn_rule_create,
    earn_rule_deactivate,
    programme_update,
    reward_create,
    reward_update,
    tier_update,
)
from tests.loyalty.factories import EarnRuleFactory, ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db

BELL = (
    "This text contains an invisible control character (U+0007) that cannot be stored; remove it."
)


def _state() -> dict:
    return {
        "rewards": list(Reward.objects.values()),
        "tiers": list(Tier.objects.values()),
        "rules": list(EarnRule.objects.values()),
        "badges": Badge.objects.count(),
        "batches": CouponBatch.objects.count(),
        "adjustments": PointsAdjustment.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def _refused(call, field: str) -> None:
    before = _state()
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert (caught.value.message, caught.value.extra) == (BELL, {"field": field})
    assert _state() == before


def test_configuration_texts_are_refused(manager):
    ProgrammeFactory()
    reward, tier = RewardFactory(), TierFactory(slug="gold")
    _refused(
        lambda: reward_create(
            actor=manager, name="Mug\u0007", slug="mug", kind="physical", cost_points=10
        ),
        "name_en",
    )
    _refused(
        lambda: reward_update(reward=reward, actor=manager, description="Nice\u0007"),
        "description_en",
    )
    _refused(
        lambda: tier_update(tier=tier, actor=manager, benefits="Free tea\u0007"), "benefits_en"
    )
    _refused(
        lambda: tier_create(actor=manager, name="Pla\u0007tinum", slug="platinum", rank=9),
        "name_en",
    )
    _refused(lambda: programme_update(actor=manager, name="Club\u0007"), "name_en")
    _refused(
        lambda: earn_rule_create(
            actor=manager, name="Tea\u0007", kind="category", category="tea", multiplier=2
        ),
        "name_en",
    )
    _refused(  # the Chinese column is judged like the English one
        lambda: reward_update(reward=reward, actor=manager, name_zh_hans="茶\u0007具"),
        "name_zh_hans",
    )
    _refused(
        lambda: badge_create(
            actor=manager, slug="b", name="First\u0007", rule="orders_count", threshold=1
        ),
        "name_en",
    )


def test_multi_line_texts_keep_the_line_breaks_a_browser_sends(manager):
    reward = RewardFactory()
    reward_update(reward=reward, actor=manager, description="Line one\r\nline two")
    reward.refresh_from_db()
    assert reward.description == "Line one\r\nline two"


def test_a_rule_stored_before_the_rule_can_still_be_switched_off(manager):
    rule = EarnRuleFactory(category="tea")
    EarnRule.objects.filter(pk=rule.pk).update(name="Old\u0007")
    earn_rule_deactivate(rule=rule, actor=manager)
    rule.refresh_from_db()
    assert rule.is_active is False


def test_coupon_batch_name_and_adjustment_reason_are_refused(manager, customer):
    ProgrammeFactory()
    _refused(
        lambda: coupon_batch_create(
            name="Black\u0007 Friday",
            kind="fixed",
            value=Decimal("5"),
            min_spend=Decimal("0"),
            valid_from=None,
            valid_until=None,
            max_uses=1,
            max_uses_per_customer=1,
            size=2,
            actor=manager,
        ),
        "name_en",  # the plain name is the active language's column
    )
    _refused(
        lambda: points_adjust(customer=customer, points=10, reason="Goodwill\u0007", actor=manager),
        "reason",
    )

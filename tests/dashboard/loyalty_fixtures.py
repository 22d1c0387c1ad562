"""Shared data for the staff loyalty page tests."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts import roles
from apps.loyalty.models import CouponBatch, Programme, Redemption, Referral
from apps.loyalty.services import coupon_batch_create, points_adjust, reward_redeem
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import EarnRuleFactory, ProgrammeFactory, RewardFactory, TierFactory


def rows(model, n, **fields):
    """``n`` cheap rows in one INSERT (for query-budget tests)."""
    objs = []
    for i in range(n):
        values = {k: (v(i) if callable(v) else v) for k, v in fields.items()}
        objs.append(model(**values))
    return model.objects.bulk_create(objs)


@pytest.fixture
def loyalty_world(superuser):
    """A programme with tiers, a reward, a member with points, a physical redemption waiting for
    fulfilment, a coupon batch and an adjustment waiting for approval."""
    ProgrammeFactory(adjustment_limit=500)
    tiers = [
        TierFactory(slug="member", name="Member", rank=0),
        TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(1000)),
    ]
    EarnRuleFactory(name="Tea ×2", category="tea")
    root = superuser
    customer = CustomerFactory(first_name="Lin", last_name="Wei")
    friend = CustomerFactory()
    Referral.objects.create(referrer=customer, referee=friend, code="LINWEI")
    points_adjust(customer=customer, points=2000, reason="Welcome gift", actor=root)
    reward = RewardFactory(name="Tea mug", kind="physical", cost_points=300, stock=20)
    redemption = reward_redeem(customer=customer, reward=reward, quantity=1, key="w-1")
    batch = coupon_batch_create(
        name="Spring",
        kind="percent",
        value=Decimal(10),
        min_spend=Decimal(0),
        valid_from=timezone.now(),
        valid_until=None,
        max_uses=1,
        max_uses_per_customer=1,
        size=30,
        actor=root,
    )
    requester = make_staff(roles.SUPPORT_AGENT, email="requester@test.local")
    pending = points_adjust(customer=customer, points=900, reason="Goodwill", actor=requester)
    assert pending.status == "pending"
    return {
        "programme": Programme.get(),
        "tiers": tiers,
        "customer": customer,
        "reward": reward,
        "redemption": Redemption.objects.get(pk=redemption.pk),
        "batch": CouponBatch.objects.get(pk=batch.pk),
        "root": root,
        "pending": pending,
        "requester": requester,
    }

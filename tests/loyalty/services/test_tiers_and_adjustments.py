import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.enums import AdjustmentStatus
from apps.loyalty.exceptions import AdjustmentNotAllowed, InsufficientPoints
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction, TierHistory
from apps.loyalty.selectors import points_summary
from apps.loyalty.services import adjustment_decide, points_adjust, tier_review_due
from apps.loyalty.verification import ledger_faults
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


def _account(customer):
    return LoyaltyAccount.objects.select_related("tier").get(customer=customer)


def test_summary_shows_what_is_left_to_the_next_tier(programme, tiers, customer, buy):
    buy(customer, "600", days_ago=30)
    summary = points_summary(customer=customer)
    assert summary.tier.slug == "member" and summary.next_tier.slug == "silver"
    assert (summary.to_next_tier, summary.progress_percent) == (Decimal(400), 60)


def test_downgrade_waits_for_the_review_date_and_grace(programme, tiers, customer, buy):
    buy(customer, "1200", days_ago=300)
    account = _account(customer)
    assert account.tier.slug == "silver"
    review = account.tier_review_at
    # Spend falls out of the window, but before review + grace nothing changes.
    assert tier_review_due(as_of=review + dt.timedelta(days=programme.tier_grace_days - 1)) == 0
    assert _account(customer).tier.slug == "silver"
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        tier_review_at=timezone.localdate() - dt.timedelta(days=40)
    )
    assert tier_review_due() == 1
    account = _account(customer)
    assert account.tier.slug == "silver"  # 1200 in the window ≥ retention 800: kept
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        tier_review_at=timezone.localdate() - dt.timedelta(days=40)
    )
    from apps.customers.models import Order

    Order.objects.update(placed_at=timezone.now() - dt.timedelta(days=500))
    assert tier_review_due() == 1
    account = _account(customer)
    assert account.tier.slug == "member" and account.tier_review_at is None
    assert (
        TierHistory.objects.filter(account=account).first().reason.startswith("Below the retention")
    )


def test_small_adjustment_applies_at_once_and_is_audited(programme, customer, agent):
    adjustment = points_adjust(customer=customer, points=100, reason="Goodwill", actor=agent)
    assert adjustment.status == AdjustmentStatus.APPROVED
    assert _account(customer).balance == 100
    event = AuditEvent.objects.get(action="points.adjust")
    assert event.actor == agent and event.after["balance"] == 100


def test_large_adjustment_waits_for_another_manager(programme, customer, agent, manager):
    adjustment = points_adjust(
        customer=customer, points=programme.adjustment_limit + 1, reason="Lost card", actor=agent
    )
    assert adjustment.status == AdjustmentStatus.PENDING and _account(customer).balance == 0
    with pytest.raises(AdjustmentNotAllowed):
        adjustment_decide(adjustment=adjustment, approve=True, actor=agent)
    adjustment_decide(adjustment=adjustment, approve=True, actor=manager)
    assert _account(customer).balance == programme.adjustment_limit + 1
    with pytest.raises(ValidationFailed):
        adjustment_decide(adjustment=adjustment, approve=True, actor=manager)
    assert _account(customer).balance == programme.adjustment_limit + 1


def test_managers_cannot_approve_their_own_requests(programme, customer):
    from apps.accounts.roles import MANAGER, SUPPORT_AGENT

    requester = make_staff(SUPPORT_AGENT)
    manager = make_staff(MANAGER)
    pending = points_adjust(customer=customer, points=10_000, reason="x", actor=requester)
    requester.groups.add(*manager.groups.all())
    requester = type(requester).objects.get(pk=requester.pk)  # fresh permission cache
    with pytest.raises(AdjustmentNotAllowed):
        adjustment_decide(adjustment=pending, approve=True, actor=requester)
    assert _account(customer).balance == 0


def test_negative_adjustment_beyond_balance_changes_nothing(programme, customer, agent):
    points_adjust(customer=customer, points=50, reason="x", actor=agent)
    before = PointsTransaction.objects.count()
    with pytest.raises(InsufficientPoints):
        points_adjust(customer=customer, points=-51, reason="y", actor=agent)
    assert PointsTransaction.objects.count() == before and _account(customer).balance == 50


def test_marketing_cannot_adjust_points(programme, customer, marketer):
    with pytest.raises(AdjustmentNotAllowed):
        points_adjust(customer=customer, points=5, reason="x", actor=marketer)
    assert not PointsTransaction.objects.exists()


def test_debits_take_the_soonest_expiring_points_first(programme, customer, buy, agent):
    buy(customer, "100", days_ago=100)  # expires sooner
    buy(customer, "100", days_ago=50)
    points_adjust(customer=customer, points=-150, reason="x", actor=agent)
    remaining = list(PointsLot.objects.order_by("expires_at").values_list("remaining", flat=True))
    assert remaining == [0, 50]
    assert list(ledger_faults()) == []

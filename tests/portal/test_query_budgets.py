"""Query budgets for the member portal (DESIGN §7): each page costs the same number of queries
for a member with 5 rows of everything (messages, consent records, orders with points, bonus
points, redemptions, coupons, badges, referrals) as with 50, and stays under a fixed ceiling.

The counts include the session, the user, allauth's user-session tracking and the unread badge."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.customers.inbox import portal_message_mark_read, portal_message_send
from apps.customers.models import ConsentRecord, OrderLine, PortalMessage
from apps.customers.services import consent_record
from apps.loyalty.models import Coupon, CustomerBadge, PointsTransaction, Redemption, Referral
from apps.loyalty.services import (
    bonus_award,
    coupon_issue,
    order_earn,
    referral_code_for,
    referral_register,
    reward_redeem,
)
from tests.conftest import enrolled_member
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.loyalty.factories import BadgeFactory, ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db

# Ceilings: what each page measured when this file was written (in brackets) plus 2 of headroom.
BUDGETS = {
    "portal:overview": 18,  # (16)
    "portal:messages": 12,  # (10)
    "portal:profile": 11,  # (9)
    "portal:privacy": 13,  # (11)
    "portal:card": 11,  # (9)
    "portal:points": 19,  # (17)
    "portal:rewards": 16,  # (14)
    "portal:coupons": 12,  # (10)
    "portal:referrals": 16,  # (14)
}
CHANNELS = [("email", "marketing"), ("sms", "marketing"), ("email", "surveys")]


@pytest.fixture
def member(db):
    ProgrammeFactory(signup_bonus=0, pending_days=14, referrer_bonus=300, referee_bonus=200)
    TierFactory(slug="member", name="Member", rank=0, benefits="Birthday bonus")
    TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(100_000))
    return enrolled_member("budget@test.local")


def _grow(user, customer, *, start: int, n: int) -> None:
    """Give the member ``n`` more rows of each kind, numbered from ``start``."""
    store = StoreFactory(code="budget-store", name="Budget Store")
    now = timezone.now()
    for i in range(start, start + n):
        message, _ = portal_message_send(customer=customer, subject=f"Message {i}", body="Hi")
        if i % 2:
            portal_message_mark_read(message=message)
        channel, purpose = CHANNELS[i % len(CHANNELS)]
        consent_record(
            customer=customer,
            channel=channel,
            purpose=purpose,
            granted=bool(i % 2),
            source="portal",
            actor=user if i % 2 else None,
        )
        # Orders: half still pending (inside the return window), half earned.
        order = OrderFactory(
            customer=customer,
            store=store,
            external_id=f"BUDGET-{i:04d}",
            placed_at=now - dt.timedelta(days=3 if i % 2 else 30, minutes=i),
            total=Decimal("120.00"),
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=order, sku=f"SKU-{i}-{j}", unit_price=Decimal("60.00"))
            for j in range(2)
        )
        order_earn(order=order)
        bonus_award(customer=customer, points=100, key=f"budget:{i}", reason="Welcome gift")
        physical = RewardFactory(name=f"Reward {i}", slug=f"budget-gift-{i}", cost_points=10)
        reward_redeem(customer=customer, reward=physical, key=f"budget:gift:{i}")
        voucher = RewardFactory(
            name=f"Voucher {i}",
            slug=f"budget-voucher-{i}",
            kind="voucher",
            cost_points=10,
            coupon_kind="fixed",
            coupon_value=Decimal(5),
        )
        reward_redeem(customer=customer, reward=voucher, key=f"budget:voucher:{i}")
        coupon = coupon_issue(owner=customer, kind="percent", value=Decimal(10))
        if i % 3 == 1:  # used up
            Coupon.objects.filter(pk=coupon.pk).update(uses=1)
        elif i % 3 == 2:  # expired
            Coupon.objects.filter(pk=coupon.pk).update(valid_until=now - dt.timedelta(days=1))
        CustomerBadge.objects.create(
            customer=customer, badge=BadgeFactory(slug=f"budget-badge-{i}", name=f"Badge {i}")
        )
        referral_register(
            referee=CustomerFactory(first_name=f"Friend{i}"),
            code=referral_code_for(customer=customer).code,
        )


def _count(client, url: str) -> int:
    client.get(url)  # warm up: one-off work (e.g. the referral code on the first visit)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_member_has_exactly_the_rows_the_budgets_assume(member):
    user, customer = member
    _grow(user, customer, start=0, n=5)
    assert PortalMessage.objects.filter(customer=customer).count() == 5
    assert ConsentRecord.objects.filter(customer=customer).count() == 5
    assert customer.orders.count() == 5
    assert Redemption.objects.filter(account__customer=customer).count() == 10
    assert Coupon.objects.filter(owner=customer).count() == 10  # 5 issued + 5 vouchers
    assert Referral.objects.filter(referrer=customer).count() == 5
    # 5 order rows (earned or pending), 5 bonuses, 10 redemptions.
    assert PointsTransaction.objects.filter(account__customer=customer).count() == 20


# What each page must show with 50 rows, so a budget cannot pass on an empty page.
SHOWN = {
    "portal:overview": ["Message 49"],
    "portal:messages": ["Message 49", "Message 0"],
    "portal:privacy": ["Stopped"],
    "portal:points": ["Voucher 49 Redeemed", "Badge 49", "1–25 of 200"],
    "portal:rewards": ["Voucher 49"],
    # 17 issued coupons active + 50 vouchers; 17 used up; 16 expired.
    "portal:coupons": ["Active 67 Used 17 Expired 16"],
    "portal:referrals": ["Friend49", "Friend0"],
}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_portal_pages_cost_the_same_with_5_or_50_rows(
    client, member, django_assert_max_num_queries
):
    urls = {name: reverse(name) for name in BUDGETS}
    user, customer = member
    client.force_login(user)
    _grow(user, customer, start=0, n=5)
    few = {name: _count(client, url) for name, url in urls.items()}
    _grow(user, customer, start=5, n=45)
    many = {name: _count(client, url) for name, url in urls.items()}
    assert many == few  # a page that differs is named in the diff
    for name, url in urls.items():
        with django_assert_max_num_queries(BUDGETS[name]):
            response = client.get(url)
        assert response.status_code == 200
        text = _text(response)
        missing = [needle for needle in SHOWN.get(name, []) if needle not in text]
        assert missing == [], f"{name} does not show {missing}"

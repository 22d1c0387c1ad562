import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.customers.models import Order
from apps.loyalty.models import Badge, CustomerBadge, LoyaltyAccount, PointsTransaction
from apps.loyalty.services import badges_anniversary_award, badges_evaluate
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _badge(slug, rule, threshold=1, bonus=0, **kwargs):
    return Badge.objects.create(
        slug=slug, name=slug.title(), rule=rule, threshold=threshold, bonus_points=bonus, **kwargs
    )


def _held(customer) -> set[str]:
    return set(
        CustomerBadge.objects.filter(customer=customer).values_list("badge__slug", flat=True)
    )


def test_first_purchase_badge_with_bonus_is_awarded_once(programme, customer, buy):
    _badge("first", "first_purchase", threshold=7, bonus=50)
    assert badges_evaluate(customer=customer) == []
    buy(customer, "30", days_ago=30)
    assert _held(customer) == {"first"}
    tx = PointsTransaction.objects.get(idempotency_key__startswith="bonus:badge:")
    assert tx.points == 50 and tx.idempotency_key == (
        f"bonus:badge:{customer.pk}:{Badge.objects.get().pk}"
    )
    buy(customer, "30", days_ago=29)
    assert badges_evaluate(customer=customer) == []
    assert CustomerBadge.objects.count() == 1
    assert LoyaltyAccount.objects.get(customer=customer).balance == 30 + 30 + 50
    assert list(ledger_faults()) == []


def test_orders_count_and_spend_badges_follow_their_thresholds(programme, customer, buy):
    _badge("third", "orders_count", threshold=3)
    _badge("big", "spend_total", threshold=500)
    buy(customer, "200", days_ago=30)
    buy(customer, "200", days_ago=30)
    assert _held(customer) == set()
    buy(customer, "99", days_ago=30)
    assert _held(customer) == {"third"}
    buy(customer, "1", days_ago=30)
    assert _held(customer) == {"third", "big"}


def test_refunded_orders_do_not_count(programme, customer, buy):
    _badge("big", "spend_total", threshold=500)
    buy(customer, "400", days_ago=30)
    Order.objects.filter(customer=customer).update(refunded_amount=Decimal(300))
    buy(customer, "300", days_ago=30)
    assert _held(customer) == set()  # 400 - 300 + 300 = 400


def test_inactive_and_unknown_rule_badges_are_never_awarded(programme, customer, buy):
    _badge("off", "first_purchase", is_active=False)
    _badge("odd", "first_review")
    buy(customer, "10", days_ago=30)
    assert _held(customer) == set()


def test_anniversary_job_awards_members_who_reached_their_years_once(programme):
    today = timezone.localdate()
    _badge("one-year", "anniversary", threshold=1, bonus=100)
    _badge("five-years", "anniversary", threshold=5)
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(today, dt.time(12), tzinfo=tz)
    veteran = CustomerFactory(joined_at=start - dt.timedelta(days=366 * 2))
    exactly = CustomerFactory(joined_at=start.replace(year=today.year - 1))
    newcomer = CustomerFactory(joined_at=start - dt.timedelta(days=200))
    tomorrow_one_year = CustomerFactory(
        joined_at=start.replace(year=today.year - 1) + dt.timedelta(days=1)
    )
    assert badges_anniversary_award(today=today, chunk=1) == 2
    assert _held(veteran) == {"one-year"} and _held(exactly) == {"one-year"}
    assert _held(newcomer) == set() and _held(tomorrow_one_year) == set()
    assert LoyaltyAccount.objects.get(customer=veteran).balance == 100
    assert badges_anniversary_award(today=today) == 0
    assert PointsTransaction.objects.count() == 2
    assert list(ledger_faults()) == []

"""Merges under real concurrency on PostgreSQL (threads, each with its own connection): two
merges of the same customer at once, one wins and the other is refused with nothing
half-written; orders posted with the merged-away number while the merge runs all end up, with
their points, on the survivor; both ledger chains verify."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts import roles
from apps.core.models import AuditEvent
from apps.customers.models import Customer, Order
from apps.customers.selectors import customer_get
from apps.customers.services import customer_merge
from apps.loyalty.enums import TxKind
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from apps.loyalty.services import order_ingest
from apps.loyalty.verification import ledger_faults
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory
from tests.loyalty.test_concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _kinds(outcomes) -> Counter:
    return Counter(
        "ok" if status == "ok" else getattr(value, "code", type(value).__name__)
        for status, value in outcomes
    )


@pytest.fixture
def boss():
    return make_staff(roles.MANAGER, email="merge-boss@test.local")


@pytest.fixture
def store():
    ProgrammeFactory(pending_days=0)
    return StoreFactory(code="race-shop")


def _buy(store, customer, external_id, total="100.00"):
    return order_ingest(
        store=store,
        external_id=external_id,
        customer=customer,
        placed_at=timezone.now() - dt.timedelta(days=1),
        total=Decimal(total),
    )


@pytest.mark.parametrize("round_", range(3))
def test_two_merges_of_the_same_customer_one_wins_one_is_refused(boss, store, round_):
    source, left, right = CustomerFactory(), CustomerFactory(), CustomerFactory()
    _buy(store, source, f"S-{round_}")
    targets = [left, right]

    outcomes = run_concurrently(
        2,
        lambda i: customer_merge(
            source=Customer.objects.get(pk=source.pk),
            target=Customer.objects.get(pk=targets[i].pk),
            actor=boss,
            reason=f"race {i}",
        ),
    )

    assert _kinds(outcomes) == {"ok": 1, "merge_already_merged": 1}
    winner = targets[[status for status, _v in outcomes].index("ok")]
    source.refresh_from_db()
    assert source.merged_into_id == winner.pk
    assert Order.objects.get(external_id=f"S-{round_}").customer_id == winner.pk
    assert LoyaltyAccount.objects.get(customer=winner).balance == 100
    assert PointsTransaction.objects.filter(kind=TxKind.TRANSFER).count() == 2
    assert AuditEvent.objects.filter(action="customer.merge").count() == 1
    assert AuditEvent.objects.filter(action="points.transfer").count() == 1
    assert list(ledger_faults()) == []


def test_chained_merges_at_once_end_with_one_survivor(boss, store):
    first, middle, last = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for n, c in enumerate((first, middle, last)):
        _buy(store, c, f"C-{n}")
    pairs = [(first, middle), (middle, last)]

    outcomes = run_concurrently(
        2,
        lambda i: customer_merge(
            source=Customer.objects.get(pk=pairs[i][0].pk),
            target=Customer.objects.get(pk=pairs[i][1].pk),
            actor=boss,
            reason="chain",
        ),
    )

    kinds = _kinds(outcomes)
    assert kinds in ({"ok": 2}, {"ok": 1, "merge_already_merged": 1})
    survivor = customer_get(member_number=first.member_number)
    assert survivor.merged_into_id is None
    for c in (first, middle, last):
        resolved = customer_get(member_number=c.member_number)
        assert resolved.merged_into_id is None
    active = Customer.objects.filter(merged_into__isnull=True)
    holding = LoyaltyAccount.objects.filter(customer__in=active).values_list("balance", flat=True)
    assert sum(holding) == 300
    assert list(ledger_faults()) == []


def test_orders_racing_a_merge_land_on_the_survivor(boss, store):
    source, target = CustomerFactory(), CustomerFactory()
    _buy(store, source, "R-0")
    stale = Customer.objects.get(pk=source.pk)

    def work(i):
        if i == 0:
            return customer_merge(source=stale, target=target, actor=boss, reason="race")
        # The till looked the member up before the merge: it still holds the old record.
        return _buy(store, Customer.objects.get(pk=stale.pk), f"R-{i}")[1]

    outcomes = run_concurrently(9, work)

    assert _kinds(outcomes) == {"ok": 9}
    assert not Order.objects.filter(customer=source).exists()
    assert Order.objects.filter(customer=target).count() == 9
    assert LoyaltyAccount.objects.get(customer=source).balance == 0
    assert LoyaltyAccount.objects.get(customer=target).balance == 900
    assert list(ledger_faults()) == []

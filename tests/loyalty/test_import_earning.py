import datetime as dt
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.customers.importing.orders import orders_import
from apps.customers.models import Order
from apps.loyalty.models import CustomerBadge, LoyaltyAccount
from apps.loyalty.verification import ledger_faults
from tests.loyalty.factories import BadgeFactory

pytestmark = pytest.mark.django_db


def test_imported_orders_earn_points_and_win_badges_in_the_import_transaction(
    programme, tiers, store, customer, tmp_path
):
    BadgeFactory(slug="first", rule="first_purchase", threshold=1)
    day = (timezone.localdate() - dt.timedelta(days=60)).isoformat()
    path = tmp_path / "orders.csv"
    path.write_text(
        "member_number,external_id,store,placed_at,total\n"
        f"{customer.member_number},IMP-1,{store.code},{day},300.00\n"
        f"{customer.member_number},IMP-2,{store.code},{day},1200.00\n",
        encoding="utf-8",
    )
    result = orders_import(path=path, dry_run=False)
    assert result.created == 2
    account = LoyaltyAccount.objects.get(customer=customer)
    assert (account.balance, account.tier.slug) == (1500, "silver")
    assert CustomerBadge.objects.filter(customer=customer, badge__slug="first").exists()
    assert list(ledger_faults()) == []


def test_an_import_whose_earning_fails_writes_nothing_and_a_rerun_earns_once(
    programme, store, customer, tmp_path
):
    """The orders earn inside the import's transaction (``orders.imported`` is an in-transaction
    event): when earning fails (a lost database connection), nothing of the import is written,
    and running the same file again records and earns the orders — once."""
    day = (timezone.localdate() - dt.timedelta(days=60)).isoformat()
    path = tmp_path / "orders.csv"
    path.write_text(
        "member_number,external_id,store,placed_at,total\n"
        f"{customer.member_number},IMP-1,{store.code},{day},300.00\n"
        f"{customer.member_number},IMP-2,{store.code},{day},200.00\n",
        encoding="utf-8",
    )
    dies = OperationalError("server closed the connection unexpectedly")
    with (
        mock.patch("apps.loyalty.services.earning_bulk.orders_earn_bulk", side_effect=dies),
        pytest.raises(OperationalError),
    ):
        orders_import(path=path, dry_run=False)
    assert Order.objects.count() == 0
    assert not AuditEvent.objects.filter(action="import.orders").exists()
    assert not LoyaltyAccount.objects.filter(customer=customer, lifetime_earned__gt=0).exists()

    first = orders_import(path=path, dry_run=False)
    again = orders_import(path=path, dry_run=False)
    assert (first.created, first.skipped, again.created, again.skipped) == (2, 0, 0, 2)
    account = LoyaltyAccount.objects.get(customer=customer)
    assert (account.balance, account.lifetime_earned) == (500, 500)
    assert list(ledger_faults()) == []

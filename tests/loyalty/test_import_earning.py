import datetime as dt

import pytest
from django.utils import timezone

from apps.customers.imports import orders_import
from apps.loyalty.models import CustomerBadge, LoyaltyAccount
from apps.loyalty.verification import ledger_faults
from tests.loyalty.factories import BadgeFactory

pytestmark = pytest.mark.django_db


def test_imported_orders_earn_points_and_run_the_after_order_hooks(
    programme, tiers, store, customer, tmp_path, django_capture_on_commit_callbacks
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
    with django_capture_on_commit_callbacks(execute=True):
        result = orders_import(path=path, dry_run=False)
    assert result.created == 2
    account = LoyaltyAccount.objects.get(customer=customer)
    assert (account.balance, account.tier.slug) == (1500, "silver")
    assert CustomerBadge.objects.filter(customer=customer, badge__slug="first").exists()
    assert list(ledger_faults()) == []


def test_a_rerun_earns_orders_whose_first_run_died_before_they_earned(
    programme, store, customer, tmp_path, django_capture_on_commit_callbacks
):
    """The orders commit first and earn in an on-commit hook: when the hook fails (a lost
    database connection, a killed worker), running the same file again records nothing more
    and earns what did not earn yet — once."""
    from django.db import OperationalError

    from apps.customers.imports import ORDERS_IMPORTED_HOOKS
    from apps.customers.models import Order

    day = (timezone.localdate() - dt.timedelta(days=60)).isoformat()
    path = tmp_path / "orders.csv"
    path.write_text(
        "member_number,external_id,store,placed_at,total\n"
        f"{customer.member_number},IMP-1,{store.code},{day},300.00\n"
        f"{customer.member_number},IMP-2,{store.code},{day},200.00\n",
        encoding="utf-8",
    )
    real = list(ORDERS_IMPORTED_HOOKS)

    def dies(*, order_ids):
        raise OperationalError("server closed the connection unexpectedly")

    ORDERS_IMPORTED_HOOKS[:] = [dies]
    try:
        with pytest.raises(OperationalError), django_capture_on_commit_callbacks(execute=True):
            orders_import(path=path, dry_run=False)
    finally:
        ORDERS_IMPORTED_HOOKS[:] = real
    assert Order.objects.count() == 2
    assert not LoyaltyAccount.objects.filter(customer=customer, lifetime_earned__gt=0).exists()

    for _run in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            result = orders_import(path=path, dry_run=False)
        assert (result.created, result.skipped) == (0, 2)
    account = LoyaltyAccount.objects.get(customer=customer)
    assert (account.balance, account.lifetime_earned) == (500, 500)
    assert list(ledger_faults()) == []

"""The programme's sign-up bonus: every member enrolled one by one (staff, API, portal, admin)
gets it once, inside the enrolment's transaction; bulk imports of existing members do not."""

import pytest
from django.db import transaction

from apps.customers.models import Customer
from apps.customers.services import customer_create
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from apps.loyalty.services import signup_bonus_award
from apps.loyalty.verification import ledger_faults
from tests.loyalty.factories import ProgrammeFactory

pytestmark = pytest.mark.django_db


def test_a_new_member_gets_the_sign_up_bonus_once():
    ProgrammeFactory(signup_bonus=150)
    customer = customer_create(first_name="Li", email="li@example.org")
    account = LoyaltyAccount.objects.get(customer=customer)
    assert (account.balance, account.lifetime_earned) == (150, 150)
    tx = PointsTransaction.objects.get(account=account)
    assert (tx.kind, tx.points, tx.idempotency_key) == ("earn", 150, f"bonus:signup:{customer.pk}")
    assert signup_bonus_award(customer=customer) is None  # a second call awards nothing
    account.refresh_from_db()
    assert account.balance == 150
    assert list(ledger_faults()) == []


def test_no_bonus_configured_means_no_ledger_row():
    ProgrammeFactory(signup_bonus=0)
    customer = customer_create(first_name="Li", email="li@example.org")
    assert not PointsTransaction.objects.filter(account__customer=customer).exists()


def test_a_failed_enrolment_leaves_no_bonus_behind():
    ProgrammeFactory(signup_bonus=150)
    with pytest.raises(RuntimeError), transaction.atomic():
        customer_create(first_name="Li", email="li@example.org")
        raise RuntimeError("the caller's transaction fails after enrolling")
    assert Customer.objects.count() == 0
    assert PointsTransaction.objects.count() == 0
    assert LoyaltyAccount.objects.count() == 0

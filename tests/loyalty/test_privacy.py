"""The loyalty app's privacy sections: the referral's other side, and erasure that touches no
one else's free text and no amount."""

import io
import json
import zipfile

import pytest
from django.db import transaction

from apps.customers.services import customer_erase, customer_export
from apps.loyalty.models import PointsTransaction
from apps.loyalty.privacy import _ledger_reasons_erase
from apps.loyalty.services import referral_code_for, referral_register
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def referral(programme, buy):
    referrer = CustomerFactory(first_name="Radomir", last_name="Oakes")
    referee = CustomerFactory(first_name="Evangelina", last_name="Thistlewood")
    referral_register(referee=referee, code=referral_code_for(customer=referrer).code)
    buy(referee, "100.00")  # the first purchase rewards both sides
    referrer_bonus = PointsTransaction.objects.get(
        account__customer=referrer, source_ref=f"referral:{referee.referred_by.pk}"
    )
    assert "Evangelina" in referrer_bonus.reason
    return referrer, referee


def test_erasing_the_referee_scrubs_only_the_referrers_row_that_names_them(referral, manager):
    referrer, referee = referral
    theirs = dict(
        PointsTransaction.objects.filter(account__customer=referrer).values_list("pk", "reason")
    )
    points = list(PointsTransaction.objects.order_by("pk").values_list("points", "hash"))

    customer_erase(customer=referee, actor=manager)

    after = dict(
        PointsTransaction.objects.filter(account__customer=referrer).values_list("pk", "reason")
    )
    changed = {pk for pk in theirs if theirs[pk] != after[pk]}
    assert [after[pk] for pk in changed] == ["(erased)"]
    assert "Evangelina" in theirs[changed.pop()]
    assert list(PointsTransaction.objects.order_by("pk").values_list("points", "hash")) == points
    assert list(ledger_faults()) == []


def test_each_side_sees_the_other_only_by_member_number(referral, manager):
    referrer, referee = referral
    _name, payload = customer_export(customer=referrer, actor=manager)
    archive = zipfile.ZipFile(io.BytesIO(payload))
    rows = json.loads(archive.read("referrals.json"))
    assert [(r["role"], r["other_member_number"], r["status"]) for r in rows] == [
        ("referrer", referee.member_number, "rewarded")
    ]
    everything = b"".join(archive.read(n) for n in archive.namelist()).decode()
    assert "Thistlewood" not in everything and referee.email not in everything


def test_erasing_ledger_reasons_twice_changes_nothing_more(referral):
    referrer, _referee = referral
    rows = PointsTransaction.objects.filter(account__customer=referrer)
    written = len([r for r in rows.values_list("reason", flat=True) if r])
    with transaction.atomic():
        assert _ledger_reasons_erase(rows) == written
        assert _ledger_reasons_erase(rows) == 0
    assert set(rows.values_list("reason", flat=True)) == {"(erased)"}

import re

import pytest

from apps.loyalty.enums import ReferralStatus
from apps.loyalty.exceptions import NotEligible
from apps.loyalty.models import Badge, CustomerBadge, LoyaltyAccount, PointsTransaction, Referral
from apps.loyalty.services import referral_code_for, referral_register
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _balance(customer) -> int:
    account = LoyaltyAccount.objects.filter(customer=customer).first()
    return account.balance if account else 0


def test_a_member_gets_one_short_typable_code():
    customer = CustomerFactory()
    code = referral_code_for(customer=customer)
    assert referral_code_for(customer=customer) == code
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", code.code)
    assert referral_code_for(customer=CustomerFactory()).code != code.code


def test_register_then_first_purchase_rewards_both_once(programme, buy):
    referrer, friend = CustomerFactory(), CustomerFactory()
    code = referral_code_for(customer=referrer).code
    referral = referral_register(referee=friend, code=f" {code.lower()[:4]}-{code.lower()[4:]} ")
    assert (referral.referrer, referral.status) == (referrer, ReferralStatus.PENDING)
    buy(friend, "50", days_ago=30)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REWARDED and referral.rewarded_at
    assert _balance(referrer) == programme.referrer_bonus
    assert _balance(friend) == 50 + programme.referee_bonus
    keys = set(
        PointsTransaction.objects.filter(idempotency_key__startswith="bonus:referral:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert keys == {
        f"bonus:referral:{referral.pk}:referrer",
        f"bonus:referral:{referral.pk}:referee",
    }
    buy(friend, "70", days_ago=20)
    assert _balance(referrer) == programme.referrer_bonus
    assert _balance(friend) == 120 + programme.referee_bonus
    assert list(ledger_faults()) == []


def test_rewarded_referrals_earn_the_referrer_a_badge(programme, buy):
    Badge.objects.create(slug="ambassador", name="Ambassador", rule="referrals", threshold=2)
    referrer = CustomerFactory()
    code = referral_code_for(customer=referrer).code
    friends = [CustomerFactory(), CustomerFactory()]
    for friend in friends:
        referral_register(referee=friend, code=code)
    buy(friends[0], "10", days_ago=30)
    assert not CustomerBadge.objects.filter(customer=referrer).exists()
    buy(friends[1], "10", days_ago=30)
    assert CustomerBadge.objects.get(customer=referrer).badge.slug == "ambassador"


@pytest.mark.parametrize(
    "case", ["self", "unknown", "already", "has_orders", "same_email", "same_phone", "circular"]
)
def test_refused_registrations_write_nothing(programme, buy, case):
    referrer = CustomerFactory(email="ref@example.org", phone="+8613900000001")
    code = referral_code_for(customer=referrer).code
    referee = CustomerFactory()
    if case == "self":
        referee = referrer
    elif case == "unknown":
        code = "NOPE2345"
    elif case == "already":
        referral_register(referee=referee, code=referral_code_for(customer=CustomerFactory()).code)
    elif case == "has_orders":
        buy(referee, "10")
    elif case == "same_email":
        referee = CustomerFactory(email="REF@example.org")
    elif case == "same_phone":
        referee = CustomerFactory(phone="+8613900000001")
    elif case == "circular":
        referral_register(referee=referrer, code=referral_code_for(customer=referee).code)
    before = list(Referral.objects.values_list("pk", "referrer_id", "referee_id", "status"))
    with pytest.raises(NotEligible) as exc:
        referral_register(referee=referee, code=code)
    assert exc.value.code == "not_eligible" and exc.value.message
    assert list(Referral.objects.values_list("pk", "referrer_id", "referee_id", "status")) == before

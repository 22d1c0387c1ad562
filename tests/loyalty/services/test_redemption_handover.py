"""Where a gift or an experience goes (issue 9, part 7): a pick-up store or a delivery address,
checked by ``reward_redeem`` for every way in, erased with the member."""

from decimal import Decimal

import pytest

from apps.core.exceptions import ValidationFailed
from apps.customers.services import customer_erase
from apps.customers.suppression import ERASED_TEXT
from apps.loyalty.models import LoyaltyAccount, PointsTransaction, Redemption
from apps.loyalty.services import bonus_award, redemptions_fulfil, reward_redeem
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(programme):
    customer = CustomerFactory()
    bonus_award(customer=customer, points=1000, key="seed", reason="seed")
    return customer


def _nothing_written(customer) -> bool:
    account = LoyaltyAccount.objects.get(customer=customer)
    return (
        account.balance == 1000
        and not Redemption.objects.exists()
        and PointsTransaction.objects.filter(account=account).count() == 1
    )


def test_a_gift_keeps_its_pickup_store(member):
    shop = StoreFactory(kind="offline")
    redemption = reward_redeem(customer=member, reward=RewardFactory(), key="k", pickup_store=shop)
    assert (redemption.pickup_store, redemption.delivery_address) == (shop, "")


def test_a_gift_keeps_its_delivery_address_trimmed(member):
    redemption = reward_redeem(
        customer=member, reward=RewardFactory(), key="k", delivery_address="  8 Tea Lane\r\n "
    )
    assert Redemption.objects.get(pk=redemption.pk).delivery_address == "8 Tea Lane"


@pytest.mark.parametrize(
    "case, field",
    [
        ("both", "delivery_address"),
        ("online store", "pickup_store"),
        ("closed store", "pickup_store"),
        ("voucher", "pickup_store"),
        ("control character", "delivery_address"),
        ("too long", "delivery_address"),
    ],
)
def test_refused_handovers_change_nothing(member, case, field):
    reward = RewardFactory()
    kwargs = {"delivery_address": "8 Tea Lane"}
    if case == "both":
        kwargs["pickup_store"] = StoreFactory()
    elif case == "online store":
        kwargs = {"pickup_store": StoreFactory(kind="online")}
    elif case == "closed store":
        kwargs = {"pickup_store": StoreFactory(is_active=False)}
    elif case == "voucher":
        reward = RewardFactory(kind="voucher", coupon_kind="fixed", coupon_value=Decimal(5))
        kwargs = {"pickup_store": StoreFactory()}
    elif case == "control character":
        kwargs = {"delivery_address": "8 Tea\x07 Lane"}
    elif case == "too long":
        kwargs = {"delivery_address": "x" * 501}
    with pytest.raises(ValidationFailed) as exc:
        reward_redeem(customer=member, reward=reward, key="k", **kwargs)
    assert exc.value.extra["field"] == field
    assert _nothing_written(member)


def test_erasure_replaces_the_delivery_address(member, manager):
    redemption = reward_redeem(
        customer=member, reward=RewardFactory(), key="k", delivery_address="8 Tea Lane"
    )
    customer_erase(customer=member, actor=manager)
    assert Redemption.objects.get(pk=redemption.pk).delivery_address == ERASED_TEXT


def test_bulk_fulfil_refuses_an_empty_or_oversized_selection(manager):
    with pytest.raises(ValidationFailed):
        redemptions_fulfil(ids=[], actor=manager)
    with pytest.raises(ValidationFailed):
        redemptions_fulfil(ids=range(1, 102), actor=manager)

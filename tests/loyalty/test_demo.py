"""The loyalty part of ``seed_demo``: coupons are used through the coupon service, so the
member's wallet, the batch report and the coupon uses have data, and the ledger stays clean."""

import io

import pytest
from django.core.management import call_command

from apps.customers import demo
from apps.customers.models import Customer
from apps.loyalty.models import CouponUse
from apps.loyalty.selectors import coupon_wallet
from apps.loyalty.staff_selectors import coupon_batch_list
from apps.loyalty.verification import ledger_faults

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings):
    settings.DEBUG = True
    settings.SETTINGS_MODULE = "config.settings.dev"
    call_command("seed_demo", customers=80, seed=42, stdout=io.StringIO())


def test_demo_members_have_used_coupons_on_their_orders(seeded):
    uses = list(CouponUse.objects.select_related("coupon", "order", "customer"))
    owned = [u for u in uses if u.coupon.owner_id is not None]
    from_batch = [u for u in uses if u.coupon.batch_id is not None]
    assert owned and from_batch and len(owned) + len(from_batch) == len(uses)
    anchor = demo._anchor()
    for use in uses:
        order = use.order
        assert order is not None and order.customer_id == use.customer_id
        assert (order.coupon_code, order.discount) == (use.coupon.code, use.discount)
        assert order.placed_at < anchor  # like every generated order
        assert use.coupon.uses == 1 and order.total >= 0
    assert all(u.customer_id == u.coupon.owner_id for u in owned)
    [batch] = coupon_batch_list()
    assert batch.used == len(from_batch) == 30
    assert list(ledger_faults()) == []


def test_the_first_demo_member_sees_a_used_voucher_in_the_wallet(seeded):
    member = Customer.objects.get(user__email="member1@example.com")
    wallet = coupon_wallet(customer=member)
    assert len(wallet.used) == 1
    assert CouponUse.objects.filter(coupon=wallet.used[0], customer=member).count() == 1

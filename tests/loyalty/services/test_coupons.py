import datetime as dt
import math
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.codes import ALPHABET, code_normalize, coupon_code_generate
from apps.loyalty.exceptions import CouponInvalid
from apps.loyalty.models import Coupon, CouponBatch, CouponUse
from apps.loyalty.services import (
    coupon_batch_create,
    coupon_issue,
    coupon_redeem,
    coupon_validate,
)
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def _coupon(**kwargs) -> Coupon:
    terms = {"code": coupon_code_generate(), "kind": "fixed", "value": Decimal(10)}
    return Coupon.objects.create(**(terms | kwargs))


def test_codes_carry_at_least_128_bits_in_a_typable_alphabet():
    codes = {coupon_code_generate() for _ in range(2000)}
    assert len(codes) == 2000
    assert not set("01OIL") & set(ALPHABET) and len(ALPHABET) == 31
    for code in codes:
        assert re.fullmatch(r"([2-9A-HJKMNP-Z]{4}-){6}[2-9A-HJKMNP-Z]{4}", code)
    assert 28 * math.log2(len(ALPHABET)) >= 128
    # Every symbol occurs (randomness is spread over the whole alphabet).
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)


def test_typed_codes_are_normalised():
    code = coupon_code_generate()
    compact = code.replace("-", "")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in compact)
    assert code_normalize(f" {compact.lower()} ") == code
    assert code_normalize(" ".join(code.split("-"))) == code
    assert code_normalize(fullwidth) == code


def test_batch_creates_distinct_codes_with_the_batch_terms_and_is_audited(marketer):
    until = timezone.now() + dt.timedelta(days=30)
    batch = coupon_batch_create(
        name="Spring",
        kind="percent",
        value=Decimal(15),
        min_spend=Decimal(50),
        valid_from=None,
        valid_until=until,
        max_uses=2,
        max_uses_per_customer=1,
        size=3000,
        actor=marketer,
    )
    coupons = Coupon.objects.filter(batch=batch)
    assert coupons.count() == 3000 == batch.size
    assert coupons.values("code").distinct().count() == 3000
    assert set(coupons.values_list("kind", "value", "min_spend", "max_uses", "valid_until")) == {
        ("percent", Decimal(15), Decimal(50), 2, until)
    }
    event = AuditEvent.objects.get(action="coupon_batch.create")
    assert event.actor == marketer and event.after["size"] == 3000


@pytest.mark.parametrize(
    "change",
    [
        {"size": 0},
        {"size": 100_001},
        {"kind": "percent", "value": Decimal(120)},
        {"kind": "bogus"},
        {"max_uses": 0},
        {"name": " "},
        {"valid_until": timezone.now() - dt.timedelta(days=1)},
    ],
)
def test_invalid_batches_are_refused_and_write_nothing(marketer, change):
    args = {
        "name": "Bad",
        "kind": "fixed",
        "value": Decimal(5),
        "min_spend": Decimal(0),
        "valid_from": None,
        "valid_until": None,
        "max_uses": 1,
        "max_uses_per_customer": 1,
        "size": 10,
        "actor": marketer,
    }
    with pytest.raises(ValidationFailed):
        coupon_batch_create(**(args | change))
    assert not CouponBatch.objects.exists() and not Coupon.objects.exists()
    assert not AuditEvent.objects.exists()


def test_issue_gives_an_owned_coupon_with_a_fresh_code():
    owner = CustomerFactory()
    coupon = coupon_issue(owner=owner, kind="percent", value=Decimal(10), valid_days=7)
    assert coupon.owner == owner and coupon.max_uses == 1 and coupon.is_active
    assert (coupon.valid_until - coupon.valid_from) == dt.timedelta(days=7)
    # Issue 9, part 5: a voucher typed at a till is 10 symbols, grouped, without look-alikes.
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}", coupon.code)


def test_a_short_voucher_exists_only_for_its_owner(store):
    """Checked without the member or for another one, a short voucher is an unknown code:
    guessing finds nothing and learns nothing. Typed loosely by its owner, it works."""
    owner = CustomerFactory()
    coupon = coupon_issue(owner=owner, kind="fixed", value=Decimal(5))
    typed = coupon.code.replace("-", " ").lower()
    for who in (None, CustomerFactory()):
        check = coupon_validate(code=typed, customer=who, order_total=Decimal(20))
        assert (check.valid, check.reason_code, check.coupon) == (False, "unknown", None)
    assert coupon_validate(code=typed, customer=owner, order_total=Decimal(20)).valid
    with pytest.raises(CouponInvalid) as exc:
        coupon_redeem(code=coupon.code, store=store, order_external_id="V-1")
    assert exc.value.extra["reason"] == "unknown"
    use = coupon_redeem(code=typed, store=store, order_external_id="V-1", customer=owner)
    assert use.customer == owner


def test_a_voucher_code_already_taken_is_drawn_again(monkeypatch):
    taken = coupon_issue(owner=CustomerFactory(), kind="fixed", value=Decimal(5)).code
    draws = iter([taken, taken, "2345-6789-AB"])
    monkeypatch.setattr("apps.loyalty.services.coupons.voucher_code_generate", lambda: next(draws))
    fresh = coupon_issue(owner=CustomerFactory(), kind="fixed", value=Decimal(5))
    assert fresh.code == "2345-6789-AB"


@pytest.mark.parametrize(
    ("kind", "value", "total", "discount"),
    [
        ("percent", Decimal("12.5"), Decimal("10.05"), Decimal("1.26")),  # 1.25625 half-up
        ("percent", Decimal("10"), Decimal("0.05"), Decimal("0.01")),  # 0.005 half-up
        ("percent", Decimal("100"), Decimal("80"), Decimal("80.00")),
        ("fixed", Decimal("30"), Decimal("100"), Decimal("30.00")),
        ("fixed", Decimal("30"), Decimal("20"), Decimal("20.00")),  # never more than the order
        ("free_shipping", Decimal("0"), Decimal("100"), Decimal("0")),
    ],
)
def test_discounts(kind, value, total, discount):
    coupon = _coupon(kind=kind, value=value)
    check = coupon_validate(code=coupon.code, order_total=total)
    assert check.valid and check.discount == discount and check.reason == ""


def test_each_refusal_has_its_reason():
    now = timezone.now()
    owner, other = CustomerFactory(), CustomerFactory()
    cases = {
        "unknown": ("ZZZZ-ZZZZ", None, Decimal(100), "There is no coupon with this code."),
        "inactive": (
            _coupon(is_active=False).code,
            None,
            Decimal(100),
            "This coupon is no longer active.",
        ),
        "not_yet_valid": (
            _coupon(valid_from=now + dt.timedelta(hours=1)).code,
            None,
            100,
            "This coupon is not valid yet.",
        ),
        "expired": (
            _coupon(valid_until=now - dt.timedelta(seconds=1)).code,
            None,
            100,
            "This coupon has expired.",
        ),
        "used_up": (_coupon(uses=1).code, None, Decimal(100), "This coupon has already been used."),
        "not_owner": (
            _coupon(owner=owner).code,
            other,
            Decimal(100),
            "This coupon belongs to another member.",
        ),
        "below_min_spend": (
            _coupon(min_spend=Decimal(100)).code,
            None,
            Decimal("99.99"),
            "The order must come to at least 100.00.",
        ),
    }
    for reason_code, (code, customer, total, reason) in cases.items():
        check = coupon_validate(code=code, customer=customer, order_total=Decimal(total))
        assert (check.valid, check.reason_code, check.discount, check.reason) == (
            False,
            reason_code,
            0,
            reason,
        )
    limited = _coupon(max_uses=5, max_uses_per_customer=1)
    CouponUse.objects.create(coupon=limited, customer=owner, order_external_id="x")
    check = coupon_validate(code=limited.code, customer=owner, order_total=Decimal(10))
    assert (check.valid, check.reason_code, check.reason) == (
        False,
        "per_customer_limit",
        "This member has already used this coupon as often as allowed.",
    )
    assert coupon_validate(code=limited.code, customer=other, order_total=Decimal(10)).valid


def test_redeem_counts_a_use_once_per_order(store):
    coupon = _coupon(max_uses=2, max_uses_per_customer=2)
    typed = coupon.code.replace("-", " ").lower()
    use = coupon_redeem(code=typed, store=store, order_external_id="A-1", order_total=Decimal(100))
    again = coupon_redeem(code=coupon.code, store=store, order_external_id="A-1")
    assert again.pk == use.pk and use.discount == Decimal(10)
    coupon.refresh_from_db()
    assert coupon.uses == 1 and CouponUse.objects.count() == 1
    coupon_redeem(code=coupon.code, store=store, order_external_id="A-2", order_total=Decimal(5))
    coupon.refresh_from_db()
    assert coupon.uses == 2
    with pytest.raises(CouponInvalid) as exc:
        coupon_redeem(code=coupon.code, store=store, order_external_id="A-3")
    assert exc.value.code == "coupon_invalid" and exc.value.extra["reason"] == "used_up"
    coupon.refresh_from_db()
    assert coupon.uses == 2 and CouponUse.objects.count() == 2


def test_refused_redeem_writes_nothing(store):
    owner = CustomerFactory()
    coupon = _coupon(owner=owner, min_spend=Decimal(50))
    with pytest.raises(CouponInvalid):
        coupon_redeem(
            code=coupon.code,
            customer=CustomerFactory(),
            store=store,
            order_external_id="B-1",
            order_total=Decimal(100),
        )
    with pytest.raises(CouponInvalid):
        coupon_redeem(
            code=coupon.code, store=store, order_external_id="B-2", order_total=Decimal(10)
        )
    with pytest.raises(CouponInvalid):
        coupon_redeem(code="nope", store=store, order_external_id="B-3")
    coupon.refresh_from_db()
    assert coupon.uses == 0 and not CouponUse.objects.exists()


def test_redeem_takes_total_and_customer_from_a_recorded_order(store):
    buyer = CustomerFactory()
    order = OrderFactory(store=store, customer=buyer, external_id="C-1", total=Decimal(80))
    coupon = _coupon(kind="percent", value=Decimal(25), min_spend=Decimal(50))
    use = coupon_redeem(code=coupon.code, store=store, order_external_id="C-1")
    assert (use.order, use.customer, use.discount) == (order, buyer, Decimal("20.00"))


def test_an_owned_coupon_without_a_member_counts_for_its_owner(store):
    owner = CustomerFactory()
    coupon = _coupon(owner=owner, max_uses=3, max_uses_per_customer=1)
    use = coupon_redeem(code=coupon.code, store=store, order_external_id="D-1")
    assert use.customer == owner
    with pytest.raises(CouponInvalid) as exc:
        coupon_redeem(code=coupon.code, store=store, order_external_id="D-2")
    assert exc.value.extra["reason"] == "per_customer_limit"


def test_wallet_sorts_a_members_coupons(store):
    from apps.loyalty.selectors import coupon_wallet

    owner = CustomerFactory()
    active = coupon_issue(owner=owner, kind="fixed", value=Decimal(5))
    used = coupon_issue(owner=owner, kind="fixed", value=Decimal(5))
    coupon_redeem(
        code=used.code, store=store, order_external_id="W-1", order_total=Decimal(9), customer=owner
    )
    expired = _coupon(owner=owner, valid_until=timezone.now() - dt.timedelta(days=1))
    off = _coupon(owner=owner, is_active=False)
    _coupon(owner=CustomerFactory())
    wallet = coupon_wallet(customer=owner)
    assert [c.pk for c in wallet.active] == [active.pk]
    assert [c.pk for c in wallet.used] == [used.pk]
    assert {c.pk for c in wallet.expired} == {expired.pk, off.pk}

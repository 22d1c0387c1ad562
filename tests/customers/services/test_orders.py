import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation

from apps.core.exceptions import Conflict, ValidationFailed
from apps.customers.enums import OrderStatus
from apps.customers.exceptions import IdempotencyConflict, RefundExceedsOrder
from apps.customers.models import Order, OrderLine, Refund
from apps.customers.services import order_record, refund_record
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

PLACED = dt.datetime(2025, 3, 1, 10, 30, tzinfo=dt.UTC)
TEA = [{"sku": "T1", "name": "Green tea", "quantity": Decimal(2), "unit_price": Decimal("49.50")}]


def _record(store, customer, external_id="A-1", total="99.00", lines=(), **over):
    return order_record(
        store=store,
        external_id=external_id,
        customer=customer,
        placed_at=over.pop("placed_at", PLACED),
        total=Decimal(total),
        lines=lines,
        **over,
    )


def test_order_is_recorded_once_per_store_and_external_id():
    store, customer = StoreFactory(), CustomerFactory()
    first, created = _record(store, customer, lines=TEA)
    # The same order again, as a till retry sends it (the quantity written another way).
    again, created_again = _record(store, customer, lines=[TEA[0] | {"quantity": Decimal("2.000")}])
    assert created and not created_again and first.pk == again.pk
    assert again.total == Decimal("99.00")
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1
    other_store_order, created_elsewhere = _record(StoreFactory(), customer)
    assert created_elsewhere and other_store_order.pk != first.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": "1.00"}, "total"),
        ({"customer": "other"}, "customer"),
        ({"customer": None}, "customer"),
        ({"placed_at": PLACED + dt.timedelta(seconds=1)}, "placed at"),
        ({"discount": Decimal("5.00")}, "discount"),
        ({"coupon_code": "SPRING"}, "coupon code"),
        ({"channel": "web"}, "channel"),
        ({"lines": [TEA[0] | {"unit_price": Decimal("49.49")}]}, "order lines"),
        ({"lines": []}, "order lines"),
        (
            {"total": "1.00", "coupon_code": "SPRING", "lines": []},
            "total, coupon code, order lines",
        ),
    ],
)
def test_the_same_id_with_different_data_is_a_conflict_and_writes_nothing(change, field):
    store, customer = StoreFactory(), CustomerFactory()
    first, _created = _record(store, customer, lines=TEA)
    if change.get("customer") == "other":
        change["customer"] = CustomerFactory()
    args = {"customer": customer, "lines": TEA} | change

    with pytest.raises(Conflict) as refused:
        _record(store, **args)

    assert refused.value.code == "order_conflict" and refused.value.status == 409
    assert refused.value.message == (
        f"Order “A-1” is already recorded at this store with a different {field}. "
        "A recorded order is never changed: post a refund, or use a new external id."
    )
    assert list(Order.objects.values_list("pk", "total", "customer", "placed_at", "channel")) == [
        (first.pk, Decimal("99.00"), customer.pk, PLACED, "store")
    ]
    assert list(OrderLine.objects.values_list("sku", "quantity", "unit_price")) == [
        ("T1", Decimal(2), Decimal("49.50"))
    ]


def test_negative_total_is_refused_and_nothing_written():
    with pytest.raises(ValidationFailed):
        _record(StoreFactory(), CustomerFactory(), total="-1")
    assert Order.objects.count() == 0


def test_refunds_update_status_and_are_idempotent():
    order = OrderFactory(total=Decimal("100.00"))
    refund_record(order=order, refund_id="R1", amount=Decimal("40.00"))
    _, created = refund_record(order=order, refund_id="R1", amount=Decimal("40.00"))
    assert not created
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (
        Decimal("40.00"),
        OrderStatus.PARTIALLY_REFUNDED,
    )
    refund_record(order=order, refund_id="R2", amount=Decimal("60.00"))
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("100.00"), OrderStatus.REFUNDED)


def test_refund_beyond_total_or_reused_id_changes_nothing():
    order = OrderFactory(total=Decimal("100.00"))
    refund_record(order=order, refund_id="R1", amount=Decimal("80.00"))
    with pytest.raises(RefundExceedsOrder):
        refund_record(order=order, refund_id="R2", amount=Decimal("20.01"))
    with pytest.raises(IdempotencyConflict):
        refund_record(order=order, refund_id="R1", amount=Decimal("10.00"))
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("80.00") and Refund.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_orders_record_one():
    store, customer = StoreFactory(), CustomerFactory()
    barrier = threading.Barrier(10)
    results = []

    def post():
        try:
            barrier.wait()
            order, created = _record(store, customer, external_id="RACE-1")
            results.append((order.pk, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Order.objects.filter(external_id="RACE-1").count() == 1
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_total():
    order = OrderFactory(total=Decimal("100.00"))
    barrier = threading.Barrier(8)
    outcomes = []

    def refund(i):
        try:
            barrier.wait()
            refund_record(order=order, refund_id=f"R{i}", amount=Decimal("30.00"))
            outcomes.append("ok")
        except RefundExceedsOrder:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=refund, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    order.refresh_from_db()
    assert outcomes.count("ok") == 3 and outcomes.count("refused") == 5
    assert order.refunded_amount == Decimal("90.00")


def test_an_order_conflict_names_the_fields_in_the_language_of_the_request():
    store, customer = StoreFactory(), CustomerFactory()
    _record(store, customer, lines=TEA)

    with translation.override("zh-hans"), pytest.raises(Conflict) as refused:
        _record(store, customer, lines=TEA, placed_at=PLACED + dt.timedelta(seconds=1))

    assert "下单时间" in refused.value.message
    assert "placed" not in refused.value.message
    assert Order.objects.get().placed_at == PLACED


def test_lines_that_do_not_add_up_to_the_total_are_refused_and_nothing_is_written():
    store, customer = StoreFactory(), CustomerFactory()
    with pytest.raises(ValidationFailed) as refused:
        _record(store, customer, total="90.00", lines=TEA)
    assert refused.value.message == (
        "The lines add up to 99.00, less the discount 0.00 makes 99.00, not the total 90.00."
    )
    assert refused.value.extra == {"field": "lines"}
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    # Within a cent is the same money; a discount is taken off the lines.
    order, created = _record(store, customer, total="89.01", discount=Decimal(10), lines=TEA)
    assert created and order.total == Decimal("89.01")


@pytest.mark.parametrize(
    ("placed_at", "message"),
    [
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), "The order is dated more than 20 years ago."),
        (dt.datetime(9999, 12, 31, tzinfo=dt.UTC), "The order is dated in the future."),
    ],
)
def test_orders_dated_outside_the_window_are_refused(placed_at, message):
    """Issue 8, defect 9: a year-1 order's points were spendable at once."""
    store, customer = StoreFactory(), CustomerFactory()
    with pytest.raises(ValidationFailed) as refused:
        _record(store, customer, placed_at=placed_at)
    assert (refused.value.message, refused.value.extra) == (message, {"field": "placed_at"})
    assert not Order.objects.exists()

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.customers.models import Order, OrderLine, Refund
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from tests.api.conftest import order_payload
from tests.loyalty.factories import ProgrammeFactory, TierFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("api:order-create")


def refunds_url(store="sh-01", external_id="POS-1") -> str:
    return reverse("api:refund-create", args=[store, external_id])


@pytest.fixture
def programme(db):
    return ProgrammeFactory(pending_days=14)


def test_order_returns_201_with_points(api, customer, programme):
    TierFactory(slug="member", name="Member", rank=0)
    response = api.post(ORDERS, order_payload(), format="json")
    assert response.status_code == 201
    assert response.json() == {
        "external_id": "POS-1",
        "points_earned": 250,
        "points_pending": 0,
        "balance": 250,
        "tier": {"slug": "member", "name": "Member"},
    }
    order = Order.objects.get()
    assert (order.store.code, order.customer, order.total) == ("sh-01", customer, Decimal(250))


def test_order_and_points_name_the_tier_the_same_way(api, customer, programme):
    """One representation of a tier across the API (TierRef), here after an upgrade."""
    TierFactory(slug="member", name="Member", rank=0)
    TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(200))
    order = api.post(ORDERS, order_payload(), format="json").json()
    points = api.get(reverse("api:customer-points", args=["1234567897"])).json()
    assert order["tier"] == points["tier"] == {"slug": "silver", "name": "Silver"}


def test_schema_documents_the_order_tier_as_a_tier_ref():
    from drf_spectacular.generators import SchemaGenerator

    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    tier = schemas["OrderResult"]["properties"]["tier"]
    assert tier["allOf"] == [{"$ref": "#/components/schemas/TierRef"}] and tier["nullable"]
    assert schemas["Points"]["properties"]["tier"]["allOf"] == tier["allOf"]


def test_recent_order_points_are_pending(api, customer, programme):
    response = api.post(
        ORDERS,
        order_payload(placed_at=timezone.now().isoformat(), total="99.90", channel="app"),
        format="json",
    )
    assert response.status_code == 201
    assert response.json() == {
        "external_id": "POS-1",
        "points_earned": 0,
        "points_pending": 99,
        "balance": 0,
        "tier": None,
    }
    assert Order.objects.get().channel == "app"


def test_order_with_lines_and_discount(api, customer, programme):
    lines = [
        {
            "sku": "TEA-1",
            "name": "Green tea",
            "category": "tea",
            "quantity": 2,
            "unit_price": "50.00",
        },
        {"sku": "CUP-1", "name": "Cup", "category": "ware", "quantity": "1", "unit_price": "30.00"},
    ]
    body = order_payload(total="120.00", discount="10.00", coupon_code="SAVE10", lines=lines)
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 201
    assert response.json()["points_earned"] == 120
    order = Order.objects.get()
    assert (order.discount, order.coupon_code) == (Decimal("10.00"), "SAVE10")
    assert list(order.lines.values_list("sku", "quantity", "unit_price")) == [
        ("TEA-1", Decimal(2), Decimal("50.00")),
        ("CUP-1", Decimal(1), Decimal("30.00")),
    ]


def test_lines_may_differ_from_total_by_one_cent(api, customer, programme):
    lines = [{"sku": "A", "quantity": 3, "unit_price": "33.33"}]
    response = api.post(ORDERS, order_payload(total="100.00", lines=lines), format="json")
    assert response.status_code == 201


def test_lines_that_do_not_add_up_are_400_and_change_nothing(api, customer, programme):
    lines = [{"sku": "A", "quantity": 1, "unit_price": "100.00"}]
    response = api.post(ORDERS, order_payload(total="99.98", lines=lines), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"] == (
        "lines: The lines add up to 100.00, less the discount 0.00 makes 100.00, "
        "not the total 99.98."
    )
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0
    assert PointsTransaction.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": "-1"}, "total: Ensure this value is greater than or equal to 0."),
        ({"external_id": ""}, "external_id: This field may not be blank."),
        (
            {"placed_at": "yesterday"},
            "placed_at: Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ),
        ({"channel": "pigeon"}, 'channel: "pigeon" is not a valid choice.'),
        (
            {"lines": [{"sku": "A", "quantity": 0, "unit_price": "1"}]},
            "lines.0.quantity: Ensure this value is greater than or equal to 0.001.",
        ),
    ],
)
def test_invalid_order_is_400_and_changes_nothing(api, customer, programme, change, message):
    response = api.post(ORDERS, order_payload(**change), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"] == message
    assert Order.objects.count() == 0 and LoyaltyAccount.objects.count() == 0


def test_unknown_member_is_404_and_changes_nothing(api, customer, programme):
    response = api.post(ORDERS, order_payload(member_number="0000000000"), format="json")
    assert response.status_code == 404
    assert response.json() == {
        "code": "customer_not_found",
        "message": "No customer with that member number.",
    }
    assert Order.objects.count() == 0


def test_unknown_store_is_404_and_changes_nothing(api, customer, programme):
    response = api.post(ORDERS, order_payload(store="nowhere"), format="json")
    assert response.status_code == 404
    assert response.json() == {"code": "store_not_found", "message": "No store with that code."}
    assert Order.objects.count() == 0


def test_the_same_order_again_is_200_with_the_first_result_and_earns_nothing(
    api, customer, programme
):
    body = order_payload()
    first = api.post(ORDERS, body, format="json")
    again = api.post(ORDERS, body, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in again
    assert Order.objects.count() == 1
    assert Order.objects.get().total == Decimal("250.00")
    assert LoyaltyAccount.objects.get(customer=customer).balance == 250


# --- refunds ---------------------------------------------------------------------------------


@pytest.fixture
def paid_order(api, customer, programme):
    assert api.post(ORDERS, order_payload(total="200.00"), format="json").status_code == 201
    return Order.objects.get()


def test_refund_returns_201_and_reverses_points_in_proportion(api, paid_order):
    response = api.post(
        refunds_url(), {"refund_id": "R-1", "amount": "50.00", "reason": "broken"}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {
        "refund_id": "R-1",
        "amount": "50.00",
        "order_status": "partially_refunded",
        "refunded_total": "50.00",
        "points_reversed": 50,
        "balance": 150,
    }
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason) == (Decimal("50.00"), "broken")


def test_full_refund_marks_the_order_refunded(api, paid_order):
    response = api.post(refunds_url(), {"refund_id": "R-1", "amount": "200"}, format="json")
    assert response.json()["order_status"] == "refunded"
    assert response.json()["points_reversed"] == 200 and response.json()["balance"] == 0


def test_the_same_refund_again_is_200_with_the_same_body(api, paid_order):
    first = api.post(refunds_url(), {"refund_id": "R-1", "amount": "50.00"}, format="json")
    again = api.post(refunds_url(), {"refund_id": "R-1", "amount": "50"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Refund.objects.count() == 1
    assert LoyaltyAccount.objects.get().balance == 150


def test_same_refund_id_with_another_amount_is_409_and_changes_nothing(api, paid_order):
    api.post(refunds_url(), {"refund_id": "R-1", "amount": "50.00"}, format="json")
    response = api.post(refunds_url(), {"refund_id": "R-1", "amount": "60.00"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "idempotency_conflict",
        "message": "This id was already used with different data.",
    }
    paid_order.refresh_from_db()
    assert paid_order.refunded_amount == Decimal("50.00") and Refund.objects.count() == 1


def test_refund_beyond_what_remains_is_409_and_changes_nothing(api, paid_order):
    api.post(refunds_url(), {"refund_id": "R-1", "amount": "150.00"}, format="json")
    response = api.post(refunds_url(), {"refund_id": "R-2", "amount": "50.01"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "refund_exceeds_order",
        "message": "The refund is larger than what remains refundable on the order.",
    }
    paid_order.refresh_from_db()
    assert paid_order.refunded_amount == Decimal("150.00") and Refund.objects.count() == 1
    assert LoyaltyAccount.objects.get().balance == 50


def test_refund_of_unknown_order_is_404(api, paid_order):
    response = api.post(
        refunds_url(external_id="NOPE"), {"refund_id": "R-1", "amount": "1"}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {
        "code": "order_not_found",
        "message": "No order with that id in that store.",
    }
    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"refund_id": "R-1", "amount": "0"}, "amount: Ensure this value is greater than"),
        ({"amount": "10"}, "refund_id: This field is required."),
        ({"refund_id": "R-1", "amount": "1.001"}, "amount: Ensure that there are no more than 2"),
        ({"refund_id": "R-1", "amount": 1.5}, 'amount: Send this as a string such as "19.90"'),
        ({"refund_id": 7, "amount": "10"}, "refund_id: Not a valid string."),
    ],
)
def test_invalid_refund_is_400_and_changes_nothing(api, paid_order, body, message):
    response = api.post(refunds_url(), body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"total": "999.00"}, "total"), ({"member_number": "9876543217"}, "customer")],
)
def test_the_same_external_id_with_other_data_is_409_order_conflict_and_changes_nothing(
    api, customer, programme, change, field
):
    from tests.customers.factories import CustomerFactory

    CustomerFactory(member_number="9876543217")
    body = order_payload()
    first = api.post(ORDERS, body, format="json")

    response = api.post(ORDERS, body | change, format="json")

    assert first.status_code == 201 and response.status_code == 409
    assert response.json() == {
        "code": "order_conflict",
        "message": f"Order “POS-1” is already recorded at this store with a different {field}. "
        "A recorded order is never changed: post a refund, or use a new external id.",
    }
    assert list(Order.objects.values_list("total", "customer")) == [(Decimal(250), customer.pk)]
    assert LoyaltyAccount.objects.get(customer=customer).balance == 250
    assert PointsTransaction.objects.count() == 1


def test_the_largest_order_the_api_accepts_earns_without_overflow(api, customer, programme):
    """Issue 8, defect 4: points are 64-bit everywhere a sum can grow (ledger rows, lots,
    account counters), so the largest total the API takes (12 digits) earns and a second such
    order pushes the balance past 2^31 without a 500."""
    TierFactory(slug="member", name="Member", rank=0)
    bodies = {n: order_payload(external_id=f"BIG-{n}", total="9999999999.99") for n in (1, 2)}
    for n in (1, 2):
        response = api.post(ORDERS, bodies[n], format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["points_earned"] == 9_999_999_999
    account = LoyaltyAccount.objects.get(customer=customer)
    assert account.balance == 2 * 9_999_999_999 > 2**31
    assert PointsTransaction.objects.filter(account=account).count() == 2
    # The same order again (a till's retry) answers the first result, not a 500.
    again = api.post(ORDERS, bodies[1], format="json")
    assert again.status_code == 200 and again.json()["points_earned"] == 9_999_999_999


def test_an_order_from_year_one_is_refused_and_earns_nothing(api, customer, programme):
    response = api.post(ORDERS, order_payload(placed_at="0001-01-01T00:00:00+00:00"), format="json")
    assert response.status_code == 400
    assert response.json()["message"] == ("placed_at: The order is dated more than 20 years ago.")
    assert not Order.objects.exists() and not PointsTransaction.objects.exists()

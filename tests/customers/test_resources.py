"""Admin resources use the fast path's row validation and re-run rules."""

import datetime as dt
from decimal import Decimal

import pytest
import tablib

from apps.core.admin_exports import EscapedCSV
from apps.core.models import AuditEvent
from apps.customers.identifiers import member_number_is_valid
from apps.customers.models import ConsentRecord, Customer, Order
from apps.customers.resources import CustomerResource, OrderResource
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db


def dataset(header, *rows):
    return tablib.Dataset(*rows, headers=header)


def test_customer_resource_normalises_like_the_fast_path(manager):
    StoreFactory(code="sh-01")
    data = dataset(
        [
            "member_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "store",
            "consent_sms_marketing",
        ],
        ["", "Wei", "Zhang", "Wei@Example.com", "138 0013 8000", "sh-01", "yes"],
    )

    result = CustomerResource().import_data(data, dry_run=False, user=manager)

    assert not result.has_errors() and not result.has_validation_errors()
    wei = Customer.objects.get()
    assert member_number_is_valid(wei.member_number)
    assert (wei.phone, wei.email, wei.source) == ("+8613800138000", "wei@example.com", "import")
    assert wei.store.code == "sh-01"
    assert wei.search_text.endswith(wei.member_number) and "zhangwei" in wei.search_text
    assert list(ConsentRecord.objects.values_list("channel", "granted", "source")) == [
        ("sms", True, "import")
    ]
    assert AuditEvent.objects.filter(action="import.customers", actor=manager).count() == 1


def test_customer_resource_rejects_bad_rows_and_writes_nothing():
    data = dataset(
        ["member_number", "first_name", "last_name", "email", "phone"],
        ["1234567890", "A", "B", "a@example.org", ""],
        ["", "C", "D", "", "12345"],
        ["", "E", "F", "", ""],
    )

    result = CustomerResource().import_data(data, dry_run=False)

    assert result.has_validation_errors()
    messages = [
        (row.number, {k: [str(m) for m in v] for k, v in row.error_dict.items()})
        for row in result.invalid_rows
    ]
    assert messages == [
        (1, {"member_number": ["is not a valid member number (10 digits with a check digit)"]}),
        (2, {"phone": ["“12345” is not a valid phone number."]}),
        (3, {"email": ["A member needs an e-mail address or a phone number."]}),
    ]
    assert Customer.objects.count() == 0


def test_customer_resource_skips_existing_customers():
    CustomerFactory(member_number="1234567897", email="old@example.com")
    before = Customer.objects.values().get()
    data = dataset(
        ["member_number", "first_name", "last_name", "email", "phone"],
        ["1234567897", "Changed", "Name", "changed@example.org", ""],
        ["", "Same", "Mail", "OLD@example.com", ""],
    )

    result = CustomerResource().import_data(data, dry_run=False)

    assert result.totals["skip"] == 2 and Customer.objects.count() == 1
    assert Customer.objects.values().get() == before


def test_order_resource_creates_and_skips_identical_orders():
    store = StoreFactory(code="sh-01")
    CustomerFactory(member_number="1234567897")
    data = dataset(
        ["member_number", "external_id", "store", "placed_at", "total"],
        ["1234567897", "R-1", "sh-01", "2024-03-01 10:00", "12.50"],
    )

    first = OrderResource().import_data(data, dry_run=False)
    again = OrderResource().import_data(data, dry_run=False)

    assert not first.has_errors() and not first.has_validation_errors()
    order = Order.objects.get()
    assert (order.store, order.total, order.customer.member_number) == (
        store,
        Decimal("12.50"),
        "1234567897",
    )
    assert order.placed_at == dt.datetime(2024, 3, 1, 2, 0, tzinfo=dt.UTC)
    assert again.totals["skip"] == 1 and Order.objects.count() == 1


def test_order_resource_refuses_a_different_existing_order():
    store = StoreFactory(code="sh-01")
    OrderFactory(store=store, external_id="R-1", total=Decimal("99.00"))
    data = dataset(
        ["member_number", "external_id", "store", "placed_at", "total"],
        ["", "R-1", "sh-01", "2024-03-01", "-1"],
        ["", "R-1", "sh-01", "2024-03-01", "1"],
    )

    result = OrderResource().import_data(data, dry_run=False)

    assert [list(r.error_dict) for r in result.invalid_rows] == [["total"], ["external_id"]]
    assert Order.objects.get().total == Decimal("99.00")


def test_exports_leave_formulae_to_the_format_and_strip_control_characters():
    CustomerFactory(first_name='=HYPERLINK("x")', last_name="@SUM")
    Customer.objects.update(city="\x1bParis")

    data = CustomerResource().export()

    assert data.dict[0]["first_name"] == '=HYPERLINK("x")'
    assert data.dict[0]["last_name"] == "@SUM" and data.dict[0]["city"] == "Paris"
    text = EscapedCSV().export_data(data)
    assert '"\'=HYPERLINK(""x"")"' in text and "'@SUM" in text


def test_resources_refuse_nul_characters_and_write_nothing(manager):
    StoreFactory(code="sh-01")
    CustomerFactory(member_number="1234567897")
    people = dataset(["first_name", "last_name", "email"], ["A\x00n", "Lee", "ann@example.com"])
    orders = dataset(
        ["member_number", "external_id", "store", "placed_at", "total", "coupon_code"],
        ["1234567897", "A-1", "sh-01", "2025-01-02T10:00:00+08:00", "10.00", "X\x00"],
    )

    refused = [
        CustomerResource().import_data(people, dry_run=False, user=manager),
        OrderResource().import_data(orders, dry_run=False, user=manager),
    ]

    assert [
        {k: [str(m) for m in v] for k, v in r.invalid_rows[0].error_dict.items()} for r in refused
    ] == [
        {"first_name": ["contains a NUL character"]},
        {"coupon_code": ["contains a NUL character"]},
    ]
    assert (Customer.objects.count(), Order.objects.count()) == (1, 0)

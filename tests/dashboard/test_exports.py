"""Exports people can use (issue 9, part 4): column titles in the reader's language, labels
instead of codes, typed XLSX cells (money with the currency format, dates as dates, phones as
text without a visible apostrophe), the customer export's loyalty, order, tag and consent figures,
and a fixed number of queries per chunk of customers."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from apps.core import services as core_services
from apps.core.exports import money_format
from apps.core.models import AuditEvent
from apps.core.services import audit_record
from apps.customers.enums import Gender
from apps.customers.exports import customer_export_header, customers_export_rows
from apps.customers.models import Customer
from apps.customers.services import consent_record
from apps.loyalty.models import LoyaltyAccount
from apps.loyalty.services import coupon_batch_create, points_adjust
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory, TagFactory
from tests.loyalty.factories import ProgrammeFactory, TierFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = "dashboard:customer-export"
ORDERS = "dashboard:order-export"


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


def _sheet(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


def _row(ws, n: int = 2) -> dict:
    header = [c.value for c in ws[1]]
    return dict(zip(header, ws[n], strict=True))


@pytest.fixture
def member(superuser):
    """A member with a tier, points (some pending), two orders (one partly refunded), two tags
    and consents: e-mail marketing given, SMS marketing given then withdrawn."""
    ProgrammeFactory()
    gold = TierFactory(slug="gold", name="Gold", rank=2)
    customer = CustomerFactory(
        member_number="1234567897",
        first_name="Wei",
        last_name="Zhang",
        phone="+8613290809573",
        gender=Gender.FEMALE,
        preferred_channel="sms",
        source="import",
        birth_date=dt.date(1990, 5, 6),
        store=StoreFactory(code="sh-01", name="Shanghai One"),
    )
    points_adjust(customer=customer, points=1250, reason="Welcome gift", actor=superuser)
    LoyaltyAccount.objects.filter(customer=customer).update(
        tier=gold, pending=40, lifetime_earned=3000
    )
    OrderFactory(customer=customer, total=Decimal("300.00"), placed_at=_local(2026, 3, 1, 10))
    OrderFactory(
        customer=customer,
        total=Decimal("120.50"),
        refunded_amount=Decimal("20.50"),
        status="partially_refunded",
        placed_at=_local(2026, 4, 2, 18, 30),
    )
    customer.tags.add(TagFactory(name="VIP"), TagFactory(name="Tea lover"))
    for granted in (True, False):
        consent_record(
            customer=customer, channel="sms", purpose="marketing", granted=granted, source="staff"
        )
    consent_record(
        customer=customer, channel="email", purpose="marketing", granted=True, source="staff"
    )
    return customer


def _local(*args) -> dt.datetime:
    return timezone.make_aware(dt.datetime(*args))


# --- headers and labels -------------------------------------------------------------------------


def test_customer_export_speaks_the_readers_language(client, manager, member):
    client.force_login(manager)

    response = client.get(reverse(CUSTOMERS), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hans")

    header, row = _csv(response)
    with translation.override("zh-hans"):
        expected_header = customer_export_header()
        female, yes = str(Gender.FEMALE.label), str(translation.gettext("Yes"))
    with translation.override("en"):
        english = customer_export_header()
    assert header == expected_header
    assert header != english  # the catalogue already has some of these titles
    assert row[header.index(expected_header[6])] == female != "Female"
    assert yes in row


def test_customer_export_titles_and_labels_in_english(client, manager, member):
    client.force_login(manager)

    header, row = _csv(client.get(reverse(CUSTOMERS), {"format": "csv"}))

    cells = dict(zip(header, row, strict=True))
    assert header[:6] == [
        "Member number",
        "First name",
        "Last name",
        "E-mail",
        "Phone",
        "Birth date",
    ]
    assert (cells["Gender"], cells["Preferred channel"], cells["Source"]) == (
        "Female",
        "SMS",
        "Import",
    )
    assert cells["Preferred language"] == "Simplified Chinese"
    assert cells["Store"] == "Shanghai One"
    assert cells["Phone"] == "'+8613290809573"  # CSV keeps the formula-injection escaping


def test_customer_export_carries_the_loyalty_figures(client, manager, member):
    client.force_login(manager)

    header, row = _csv(client.get(reverse(CUSTOMERS), {"format": "csv"}))

    cells = dict(zip(header, row, strict=True))
    assert (cells["Tier"], cells["Points balance"], cells["Pending points"]) == (
        "Gold",
        "1250",
        "40",
    )
    assert cells["Lifetime points earned"] == "3000"
    assert cells["Lifetime spend (¥)"] == "400.00"  # net of the refund
    assert cells["Orders"] == "2"
    assert cells["Last order"] == "2026-04-02 18:30:00+08:00"  # business time, with its offset
    assert cells["Tags"] == "Tea lover, VIP"
    assert cells["Consent: E-mail, Marketing"] == "Yes"
    assert cells["Consent: SMS, Marketing"] == "No"  # the latest record wins
    assert cells["Consent: Portal inbox, Surveys"] == "No"  # never asked


def test_a_customer_without_account_orders_or_tags_gets_empty_figures(client, manager):
    CustomerFactory()
    client.force_login(manager)

    header, row = _csv(client.get(reverse(CUSTOMERS), {"format": "csv"}))

    cells = dict(zip(header, row, strict=True))
    assert [cells[k] for k in ("Tier", "Points balance", "Orders", "Last order", "Tags")] == [
        ""
    ] * 5
    assert cells["Consent: E-mail, Marketing"] == "No"


def test_customer_xlsx_has_typed_cells(client, manager, member):
    client.force_login(manager)

    ws = _sheet(client.get(reverse(CUSTOMERS), {"format": "xlsx"}))

    row = _row(ws)
    phone = row["Phone"]
    assert phone.value == "+8613290809573" and phone.data_type == "s" and phone.quotePrefix
    assert not row["First name"].quotePrefix
    assert row["Birth date"].is_date and row["Birth date"].value == dt.datetime(1990, 5, 6)
    # The business time zone, naive: what the local clock said.
    assert row["Last order"].value == dt.datetime(2026, 4, 2, 18, 30)
    spend = row["Lifetime spend (¥)"]
    assert spend.value == 400 and spend.number_format == money_format() == '"¥"#,##0.00'
    assert row["Points balance"].value == 1250 and row["Orders"].value == 2
    assert (
        ws.freeze_panes == "A2"
        and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}2"
    )


def test_order_export_has_labels_and_money(client, manager):
    OrderFactory(
        external_id="+42",
        store=StoreFactory(code="bj-01", name="Beijing"),
        channel="web",
        total=Decimal("88.80"),
        discount=Decimal("5"),
        refunded_amount=Decimal("88.80"),
        status="refunded",
    )
    client.force_login(manager)

    header, row = _csv(client.get(reverse(ORDERS), {"format": "csv"}))
    cells = dict(zip(header, row, strict=True))
    assert (cells["Store"], cells["Channel"], cells["Status"]) == (
        "Beijing",
        "Web shop",
        "Refunded",
    )
    assert (cells["Total (¥)"], cells["Discount (¥)"], cells["Refunded (¥)"]) == (
        "88.80",
        "5.00",
        "88.80",
    )
    assert cells["Order number"] == "'+42"

    row = _row(_sheet(client.get(reverse(ORDERS), {"format": "xlsx"})))
    assert row["Order number"].value == "+42" and row["Order number"].quotePrefix
    assert row["Total (¥)"].value == 88.8 and row["Total (¥)"].number_format == '"¥"#,##0.00'
    assert isinstance(row["Placed at"].value, dt.datetime)


def test_order_export_headers_follow_the_language(client, manager):
    OrderFactory(status="refunded")
    client.force_login(manager)

    header, row = _csv(
        client.get(reverse(ORDERS), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    )

    with translation.override("zh-hans"):
        assert header[-1] == str(translation.gettext("Status")) != "Status"
        assert row[-1] == str(translation.gettext("Refunded")) != "Refunded"


def test_audit_export_has_labels_in_the_readers_language(client, manager):
    audit_record(actor=None, action="points.adjust", target=CustomerFactory(), summary="+5")
    client.force_login(manager)

    header, row = _csv(
        client.get(
            reverse("dashboard:audit-export"), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    )

    with translation.override("zh-hans"):
        assert header[0] == translation.gettext("When")
        assert row[4] == translation.gettext("Points adjusted") != "Points adjusted"
        assert row[6] == str(Customer._meta.verbose_name).capitalize()
    assert row[5] == "points.adjust"


def test_liability_xlsx_writes_the_outstanding_value_as_money(client, manager):
    client.force_login(manager)

    response = client.get(reverse("dashboard:loyalty-liability-export", args=["xlsx"]))

    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    value = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "Outstanding value")[1]
    assert value.number_format == '"¥"#,##0.00' and value.data_type == "n"


def test_coupon_export_has_kind_labels_and_money(client, marketer, superuser):
    batch = coupon_batch_create(
        name="Spring",
        kind="fixed",
        value=Decimal(30),
        min_spend=Decimal(200),
        valid_from=timezone.now(),
        valid_until=None,
        max_uses=1,
        max_uses_per_customer=1,
        size=2,
        actor=superuser,
    )
    client.force_login(marketer)

    url = reverse("dashboard:loyalty-coupon-export", args=[batch.pk, "xlsx"])
    row = _row(load_workbook(io.BytesIO(b"".join(client.get(url).streaming_content))).active)

    assert row["Kind"].value == "Amount off"
    assert row["Value"].value == 30 and row["Value"].number_format == money_format()
    assert row["Minimum spend (¥)"].value == 200 and row["Valid from"].is_date


# --- queries --------------------------------------------------------------------------------------


def _export_queries(manager) -> int:
    with CaptureQueriesContext(connection) as ctx:
        export = customers_export_rows(actor=manager, fmt="csv")
        rows = list(export.rows)
    assert len(rows) == Customer.objects.count()
    return len(ctx.captured_queries)


def _people(n: int, tier) -> None:
    for _ in range(n):
        customer = CustomerFactory()
        LoyaltyAccount.objects.create(customer=customer, tier=tier, balance=0)
        OrderFactory(customer=customer)
        customer.tags.add(TagFactory())
        consent_record(
            customer=customer, channel="email", purpose="surveys", granted=True, source="staff"
        )


def test_customer_export_queries_do_not_grow_with_the_customers(manager, monkeypatch):
    tier = TierFactory(slug="silver", name="Silver")
    _people(2, tier)
    few = _export_queries(manager)
    _people(6, tier)
    many = _export_queries(manager)
    assert few == many

    # Per chunk, not per customer: 8 customers in chunks of 3 are three chunks.
    monkeypatch.setattr(core_services, "EXPORT_CHUNK", 3)
    chunked = _export_queries(manager)
    # Each chunk: loyalty accounts, their tiers, order figures, tags, consents.
    assert (chunked - many) / 2 == 5
    assert AuditEvent.objects.filter(action="export.customers").count() == 3

"""The fast-path importers on whatever database the suite runs on (COPY on PostgreSQL,
bulk_create on SQLite): exact values, exact error messages, all-or-nothing, re-runs."""

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from apps.core import events
from apps.core.models import AuditEvent
from apps.customers.identifiers import member_number_is_valid
from apps.customers.importing.customers import customers_import
from apps.customers.importing.files import ImportFileError
from apps.customers.importing.orders import orders_import
from apps.customers.importing.results import MAX_ERRORS
from apps.customers.models import ConsentRecord, Customer, Order, OrderLine
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CUSTOMER_HEADER = (
    "member_number,first_name,last_name,email,phone,birth_date,gender,city,region,"
    "preferred_language,store,joined_at,consent_email_marketing,consent_sms_marketing\n"
)
ORDER_HEADER = (
    "member_number,external_id,store,placed_at,total,channel,discount,coupon_code,"
    "sku,name,category,quantity,unit_price\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts() -> dict[str, int]:
    return {
        "customers": Customer.objects.count(),
        "consents": ConsentRecord.objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def stores():
    return StoreFactory(code="sh-01", name="Shanghai 1"), StoreFactory(code="bj-01", name="Beijing")


@pytest.fixture
def members(stores):
    return (
        CustomerFactory(member_number="1234567897"),
        CustomerFactory(member_number="9876543217"),
    )


# --- customers -----------------------------------------------------------------------------


def test_customers_good_file_imports_exactly(stores, manager):
    result = customers_import(path=FIXTURES / "customers_good.csv", dry_run=False, actor=manager)

    assert result.ok, result.errors
    assert (result.rows, result.created, result.consents, result.skipped) == (3, 3, 3, 0)
    zhang = Customer.objects.get(last_name="Zhang")
    assert member_number_is_valid(zhang.member_number)
    assert zhang.email == "wei.zhang@example.com"
    assert zhang.phone == "+8613800138000"
    assert zhang.birth_date == dt.date(1990, 4, 1)
    assert zhang.gender == "male"
    assert zhang.store == stores[0]
    assert zhang.source == "import"
    assert zhang.joined_at == dt.datetime(2024, 1, 15, tzinfo=SHANGHAI)
    assert zhang.search_text == (
        f"wei zhang zhangwei wei.zhang@example.com +8613800138000 8613800138000 "
        f"{zhang.member_number}"
    )
    smith = Customer.objects.get(member_number="1234567897")
    assert (smith.first_name, smith.phone, smith.gender) == ("Anna", "+442079460958", "female")
    assert smith.preferred_language == "en"
    assert smith.joined_at == dt.datetime(2024, 2, 1, 10, 30, tzinfo=dt.UTC)
    li = Customer.objects.get(last_name="李")
    assert (li.first_name, li.city, li.phone, li.store) == ("娜", "北京", "+8613912345678", None)
    assert li.preferred_language == "zh-hans"
    consents = sorted(
        ConsentRecord.objects.values_list(
            "customer__last_name", "channel", "purpose", "granted", "source", "actor"
        )
    )
    assert consents == [
        ("Smith", "email", "marketing", True, "import", manager.pk),
        ("Zhang", "email", "marketing", True, "import", manager.pk),
        ("Zhang", "sms", "marketing", False, "import", manager.pk),
    ]
    assert ConsentRecord.objects.filter(evidence="import customers_good.csv row 2").count() == 2
    event = AuditEvent.objects.get(action="import.customers")
    assert event.actor == manager
    assert event.after["file"] == "customers_good.csv"
    assert event.after["created"] == 3 and event.after["rows"] == 3


def test_customers_rerun_creates_nobody_twice(stores):
    customers_import(path=FIXTURES / "customers_good.csv", dry_run=False)
    before = counts()

    again = customers_import(path=FIXTURES / "customers_good.csv", dry_run=False)

    assert again.ok and (again.created, again.skipped) == (0, 3)
    after = counts()
    assert after["customers"] == before["customers"] == 3
    assert after["consents"] == before["consents"]


def test_customers_bad_rows_give_exact_messages_and_write_nothing(tmp_path, stores):
    CustomerFactory(member_number="9876543217")
    path = write(
        tmp_path,
        "bad.csv",
        CUSTOMER_HEADER
        + "1234567890,Al,Bad,al@example.com,,,,,,,,,,\n"  # bad check digit
        + ",Bo,Bad,not-an-email,12345,,,,,,,,,\n"
        + ",Cy,Bad,,,1990-13-01,robot,,,fr,xx-99,,maybe,\n"
        + ",,,,,,,,,,,,,\n"  # blank row: skipped, keeps its number
        + ",Di,Bad,,,2999-01-01,,,,,,tomorrow,,\n"
        + ",,,,,,,Paris,,,,,,\n"
        + "1234567897,Ed,Ok,ed@example.org,,,,,,,,,,\n"
        + "1234567897,Ed,Twice,ed@example.net,,,,,,,,,,\n",
    )
    before = counts()

    result = customers_import(path=path, dry_run=False)

    assert result.errors == [
        "row 2, column member_number: is not a valid member number (10 digits with a check digit)",
        # The profile's own rules come from the one clean the other ways in use too.
        "row 3, column phone: “12345” is not a valid phone number.",
        "row 3, column email: Enter a valid e-mail address.",
        "row 4, column birth_date: is not a date (YYYY-MM-DD)",
        "row 4, column gender: must be one of female, male, other, undisclosed",
        "row 4, column preferred_language: must be one of en, zh-hans",
        "row 4, column store: unknown store “xx-99”",
        "row 4, column consent_email_marketing: must be yes or no",
        "row 4, column email: A member needs an e-mail address or a phone number.",
        "row 6, column joined_at: is not an ISO 8601 date or date-time",
        "row 6, column birth_date: The birth date is in the future.",
        "row 6, column email: A member needs an e-mail address or a phone number.",
        "row 7, column email: A member needs an e-mail address or a phone number.",
        "row 9, column member_number: duplicate of row 8",
    ]
    assert result.error_count == 14 and not result.ok
    assert (result.created, result.consents) == (0, 0)
    assert counts() == before


def test_customers_with_control_characters_are_refused_and_write_nothing(tmp_path, stores):
    path = write(
        tmp_path,
        "ctl.csv",
        CUSTOMER_HEADER
        + ",Bo,Fine,bo@example.org,,,,,,,,,,\n"
        + ",Ann\u0007,Lee,ann@example.org,,,,Hang\x1bzhou,,,,,,\n",
    )
    before = counts()

    result = customers_import(path=path, dry_run=False)

    message = "This text contains an invisible control character (U+%s) that cannot be stored; "
    assert result.errors == [
        f"row 3, column first_name: {message % '0007'}remove it.",
        f"row 3, column city: {message % '001B'}remove it.",
    ]
    assert (result.created, result.consents) == (0, 0)
    assert counts() == before


def test_customers_header_problems_are_row_1(tmp_path, stores):
    path = write(tmp_path, "h.csv", "first_name,last_name,e_mail,phone,phone\nA,B,a@x.org,,\n")

    result = customers_import(path=path, dry_run=False)

    assert result.errors == [
        "row 1, column e_mail: unknown column",
        "row 1, column phone: the column appears twice",
        "row 1, column email: missing column",
    ]
    assert Customer.objects.count() == 0


def test_customers_dry_run_writes_nothing_and_previews(stores):
    before = counts()

    result = customers_import(path=FIXTURES / "customers_good.csv", dry_run=True)

    assert result.ok and result.dry_run
    assert (result.rows, result.created, result.consents) == (3, 3, 3)
    assert [p["row"] for p in result.preview] == ["2", "3", "5"]
    assert result.preview[0]["phone"] == "+8613800138000"
    assert result.preview[0]["store"] == "sh-01"
    assert counts() == before


def test_customers_xlsx_with_typed_cells(tmp_path, stores):
    wb = Workbook()
    ws = wb.active
    ws.append(["first_name", "last_name", "email", "phone", "birth_date", "joined_at", "store"])
    ws.append(["Xu", "Ming", "XU@example.com", 13800138000, dt.datetime(1985, 7, 9), None, "bj-01"])
    ws.append(["Yu", "Fei", None, "+86 139 1234 5678", None, dt.datetime(2023, 5, 6, 8, 0), None])
    path = tmp_path / "people.xlsx"
    wb.save(path)

    result = customers_import(path=path, dry_run=False)

    assert result.ok, result.errors
    xu = Customer.objects.get(last_name="Ming")
    assert (xu.phone, xu.email, xu.birth_date) == (
        "+8613800138000",
        "xu@example.com",
        dt.date(1985, 7, 9),
    )
    assert xu.store == stores[1]
    yu = Customer.objects.get(last_name="Fei")
    assert yu.joined_at == dt.datetime(2023, 5, 6, 8, 0, tzinfo=SHANGHAI)


def test_customers_file_not_utf8_is_refused(tmp_path, stores):
    path = tmp_path / "latin.csv"
    path.write_bytes(CUSTOMER_HEADER.encode() + ",Jos\xe9,Ruiz,,,,,,,,,,,\n".encode("latin-1"))

    with pytest.raises(ImportFileError, match="not UTF-8"):
        customers_import(path=path, dry_run=False)
    assert Customer.objects.count() == 0


# --- orders --------------------------------------------------------------------------------


def test_orders_good_file_imports_exactly(stores, members, manager):
    seen: list[list[int]] = []
    with events.late_wiring():
        events.subscribe(
            "orders.imported",
            lambda event: seen.append(event.payload["order_ids"]),
            when="in_transaction",
        )
        result = orders_import(path=FIXTURES / "orders_good.csv", dry_run=False, actor=manager)

    assert result.ok, result.errors
    assert (result.rows, result.created, result.lines, result.skipped) == (4, 3, 3, 0)
    a1 = Order.objects.get(external_id="A-1")
    assert a1.store == stores[0] and a1.customer == members[0]
    assert a1.placed_at == dt.datetime(2024, 3, 1, 10, 0, tzinfo=SHANGHAI)
    assert (a1.total, a1.discount, a1.coupon_code, a1.channel, a1.status) == (
        Decimal("120.50"),
        Decimal("5.00"),
        "SPRING",
        "store",
        "paid",
    )
    assert list(a1.lines.values_list("sku", "name", "category", "quantity", "unit_price")) == [
        ("TEA-1", "Green tea", "tea", Decimal("2.000"), Decimal("40.00")),
        ("CUP-1", "Cup", "ware", Decimal("1.000"), Decimal("45.50")),
    ]
    a2 = Order.objects.get(external_id="A-2")
    assert a2.placed_at == dt.datetime(2024, 3, 2, 9, 15, tzinfo=dt.UTC)
    assert (a2.channel, a2.total, a2.customer) == ("web", Decimal("80.00"), members[1])
    a3 = Order.objects.get(external_id="A-3")
    assert (a3.store, a3.customer, a3.lines.count()) == (stores[1], None, 0)
    assert a3.placed_at == dt.datetime(2024, 3, 3, tzinfo=SHANGHAI)
    event = AuditEvent.objects.get(action="import.orders")
    assert event.actor == manager and event.after["created"] == 3 and event.after["lines"] == 3
    # orders.imported is published in the import's transaction, with the new orders' ids.
    assert seen == [[a1.pk, a2.pk, a3.pk]]


def test_orders_rerun_does_not_duplicate(stores, members):
    first = orders_import(path=FIXTURES / "orders_good.csv", dry_run=False)
    before = counts()

    again = orders_import(path=FIXTURES / "orders_good.csv", dry_run=False)

    assert first.ok and again.ok
    assert (again.created, again.lines, again.skipped) == (0, 0, 3)
    after = counts()
    assert (after["orders"], after["lines"]) == (before["orders"], before["lines"]) == (3, 3)
    assert after["audit"] == before["audit"] + 1  # the re-run is audited too


def test_orders_already_recorded_with_other_total_is_an_error(stores, members):
    OrderFactory(
        store=stores[0],
        external_id="A-2",
        customer=members[1],
        placed_at=dt.datetime(2024, 3, 2, 9, 15, tzinfo=dt.UTC),
        total=Decimal("81.00"),
    )
    before = counts()

    result = orders_import(path=FIXTURES / "orders_good.csv", dry_run=False)

    assert result.errors == [
        "row 4, column external_id: order “A-2” is already recorded at this store with a "
        "different customer, time or total"
    ]
    assert counts() == before


def test_orders_bad_rows_give_exact_messages_and_write_nothing(tmp_path, stores, members):
    path = write(
        tmp_path,
        "bad.csv",
        ORDER_HEADER
        + "1234567897,B-1,sh-01,2024-03-01,10,,,,S1,,,1,10\n"
        + "1234567897,B-1,sh-01,2024-03-01,11,,,,S2,,,1,1\n"  # total disagrees with row 2
        + "0000000000,B-2,xx-99,yesterday,-5,fax,1.234,,,,,,\n"
        + "9876543217,B-3,sh-01,2024-02-30,7,,,,,,,,\n"
        + "9876543217,B-4,sh-01,2024-03-05T10:00,7,,,,,,,0,\n"
        + "1234567897,B-1,sh-01,2024-03-01,10,,,,S3,,,1,10\n"  # B-1 again, not adjacent
        + "9876543217,B-5,bj-01,2024-03-05,7,,,,,,,,\n"
        + "9876543217,B-5,bj-01,2024-03-05,7,,,,,,,,\n",  # duplicate without lines
    )
    before = counts()

    result = orders_import(path=path, dry_run=False)

    assert result.errors == [
        "row 3, column total: differs from row 2 of the same order",
        "row 4, column member_number: unknown member number “0000000000”",
        "row 4, column store: unknown store “xx-99”",
        "row 4, column placed_at: is not an ISO 8601 date or date-time",
        "row 4, column total: must not be negative",
        "row 4, column channel: must be one of store, web, app, phone, marketplace",
        "row 4, column discount: has more than 2 decimal places",
        "row 5, column placed_at: is not an ISO 8601 date or date-time",
        "row 6, column sku: is required on a line",
        "row 6, column quantity: must be more than zero",
        "row 6, column unit_price: is required on a line",
        "row 7, column external_id: duplicate of row 2 (order “B-1” at store “sh-01”)",
        "row 9, column external_id: duplicate of row 8 (order “B-5” at store “bj-01”)",
        # Checked once the whole order is read: its lines must add up to its total.
        "row 2, column total: The lines add up to 21.00, less the discount 0.00 makes 21.00, "
        "not the total 10.00.",
    ]
    assert result.error_count == 14
    assert (result.created, result.lines) == (0, 0)
    assert counts() == before


def test_orders_dry_run_writes_nothing(stores, members):
    before = counts()

    result = orders_import(path=FIXTURES / "orders_good.csv", dry_run=True)

    assert result.ok and (result.rows, result.created, result.lines) == (4, 3, 3)
    assert result.preview[0]["external_id"] == "A-1" and result.preview[0]["sku"] == "TEA-1"
    assert counts() == before


def test_orders_xlsx_input(tmp_path, stores, members):
    wb = Workbook()
    ws = wb.active
    ws.append(["member_number", "external_id", "store", "placed_at", "total", "sku", "unit_price"])
    ws.append(["1234567897", "X-1", "sh-01", dt.datetime(2024, 4, 1, 12, 30), 99.9, "T", 99.9])
    ws.append([9876543217, "X-2", "sh-01", dt.datetime(2024, 4, 2), 10, None, None])
    path = tmp_path / "orders.xlsx"
    wb.save(path)

    result = orders_import(path=path, dry_run=False)

    assert result.ok, result.errors
    x1 = Order.objects.get(external_id="X-1")
    assert (x1.total, x1.customer, x1.placed_at) == (
        Decimal("99.90"),
        members[0],
        dt.datetime(2024, 4, 1, 12, 30, tzinfo=SHANGHAI),
    )
    assert list(x1.lines.values_list("sku", "unit_price")) == [("T", Decimal("99.90"))]
    assert Order.objects.get(external_id="X-2").customer == members[1]


def test_errors_are_capped_with_a_total_count(tmp_path, stores, members):
    rows = "".join(f"1234567897,E-{i},nowhere,2024-01-01,1,,,,,,,,\n" for i in range(1500))
    path = write(tmp_path, "many.csv", ORDER_HEADER + rows)

    result = orders_import(path=path, dry_run=True)

    assert result.error_count == 1500
    assert len(result.errors) == MAX_ERRORS
    assert result.errors[-1] == "row 1001, column store: unknown store “nowhere”"


def test_csv_with_bom_and_without_gives_the_same_result(tmp_path, stores, members):
    plain = tmp_path / "plain.csv"
    shutil.copy(FIXTURES / "orders_good.csv", plain)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())

    a = orders_import(path=plain, dry_run=True)
    b = orders_import(path=bom, dry_run=True)

    assert a.ok and b.ok and a.summary() == b.summary()


def test_progress_is_reported(stores, members):
    calls = []

    orders_import(
        path=FIXTURES / "orders_good.csv",
        dry_run=False,
        progress=lambda status, done, total: calls.append((status, done, total)),
    )

    assert calls[0] == ("validating", 0, 0)  # total unknown until read (no expected_rows)
    assert ("validating", 4, 4) in calls
    assert calls[-1] == ("running", 4, 4)


def test_orders_whose_lines_do_not_add_up_are_refused_at_their_first_row(tmp_path, stores, members):
    path = tmp_path / "orders.csv"
    path.write_text(
        "member_number,external_id,store,placed_at,total,discount,sku,quantity,unit_price\n"
        "1234567897,L-1,sh-01,2024-03-01,80,0,S1,2,30\n"
        "1234567897,L-1,sh-01,2024-03-01,80,0,S2,1,30\n"
        "1234567897,L-2,sh-01,2024-03-01,50,10,S1,2,30\n",
        encoding="utf-8",
    )
    before = counts()
    result = orders_import(path=path, dry_run=False)
    assert result.errors == [
        "row 2, column total: The lines add up to 90.00, less the discount 0.00 makes 90.00, "
        "not the total 80.00."
    ]
    assert counts() == before

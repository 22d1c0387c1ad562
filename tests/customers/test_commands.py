"""import_customers / import_orders: summary on success; row errors on stderr, exit non-zero,
nothing written."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord, Customer, Order, OrderLine
from tests.customers.factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def shop():
    StoreFactory(code="sh-01")
    StoreFactory(code="bj-01")


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_customers_prints_a_summary(shop):
    out, err = run("import_customers", str(FIXTURES / "customers_good.csv"))

    assert out.strip() == (
        "3 rows: 3 customers created, 3 consent records, 0 already present (skipped)."
    )
    assert err == ""
    assert Customer.objects.count() == 3 and ConsentRecord.objects.count() == 3


def test_import_customers_dry_run_writes_nothing(shop):
    out, _err = run("import_customers", str(FIXTURES / "customers_good.csv"), "--dry-run")

    assert out.startswith("Dry run, nothing written. 3 rows: 3 customers created")
    assert Customer.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_import_orders_twice_skips_the_second_time(shop):
    CustomerFactory(member_number="1234567897")
    CustomerFactory(member_number="9876543217")

    first, _ = run("import_orders", str(FIXTURES / "orders_good.csv"))
    second, _ = run("import_orders", str(FIXTURES / "orders_good.csv"))

    assert first.strip() == "4 rows: 3 orders created with 3 lines, 0 already recorded (skipped)."
    assert second.strip() == "4 rows: 0 orders created with 0 lines, 3 already recorded (skipped)."
    assert (Order.objects.count(), OrderLine.objects.count()) == (3, 3)


def test_import_orders_with_errors_exits_non_zero_and_writes_nothing(shop, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "member_number,external_id,store,placed_at,total\n"
        "1111111111,Z-1,sh-01,2024-01-01,1\n"
        ",Z-2,sh-01,2024-01-01,-1\n",
        encoding="utf-8",
    )
    err = StringIO()

    with pytest.raises(CommandError, match=r"2 error\(s\) in bad.csv; nothing was written."):
        call_command("import_orders", str(path), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "row 2, column member_number: unknown member number “1111111111”",
        "row 3, column total: must not be negative",
    ]
    assert Order.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_orders", str(tmp_path / "nope.csv"))

"""Which write path runs: COPY + INSERT ... SELECT on PostgreSQL, bulk_create on SQLite. Both
with more rows than one lookup batch, so batching and the join back by (store, external_id)
are exercised."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.customers.importing.customers import customers_import
from apps.customers.importing.orders import orders_import
from apps.customers.importing.results import PROGRESS_EVERY
from apps.customers.models import ConsentRecord, Customer, Order, OrderLine
from tests.customers.factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db
N_ORDERS = PROGRESS_EVERY + 500  # two batches


@pytest.fixture
def big_orders_file(tmp_path):
    StoreFactory(code="s1")
    StoreFactory(code="s2")
    members = [CustomerFactory().member_number for _ in range(7)]
    lines = ["member_number,external_id,store,placed_at,total,sku,quantity,unit_price"]
    for i in range(N_ORDERS):
        store = "s1" if i % 2 else "s2"
        m = members[i % 7]
        lines.append(f"{m},O-{i},{store},2024-05-01T10:00:00+08:00,30.00,A,1,10.00")
        lines.append(f"{m},O-{i},{store},2024-05-01T10:00:00+08:00,30.00,B,2,10.00")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check_imported() -> None:
    assert Order.objects.count() == N_ORDERS
    assert OrderLine.objects.count() == 2 * N_ORDERS
    order = Order.objects.get(store__code="s1", external_id="O-4999")
    assert list(order.lines.values_list("sku", "quantity")) == [
        ("A", Decimal("1.000")),
        ("B", Decimal("2.000")),
    ]
    assert not OrderLine.objects.exclude(order__external_id__startswith="O-").exists()


@pytest.mark.postgres
def test_postgres_uses_copy_and_set_based_inserts(big_orders_file):
    with CaptureQueriesContext(connection) as ctx:
        result = orders_import(path=big_orders_file, dry_run=False)

    assert result.ok and (result.created, result.lines) == (N_ORDERS, 2 * N_ORDERS)
    sql = [q["sql"] for q in ctx.captured_queries]
    assert any("CREATE TEMP TABLE imp_orders" in s for s in sql)
    assert any(s.startswith("INSERT INTO customers_order ") and "FROM imp_orders" in s for s in sql)
    assert any("FROM imp_lines l JOIN customers_order o" in s for s in sql)
    # Set-based: no per-row statements. The import itself is a fixed number of statements; the
    # orders earn in the same transaction (``orders.imported``), chunked per 500 customers.
    assert len(sql) < 100
    _check_imported()


@pytest.mark.postgres
def test_postgres_customers_copy_path_with_consents(tmp_path):
    rows = ["first_name,last_name,email,phone,consent_email_marketing"]
    rows += [f"F{i},L{i},p{i}@example.org,,{'yes' if i % 2 else 'no'}" for i in range(1200)]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = customers_import(path=path, dry_run=False)

    assert result.ok and result.created == 1200 and result.consents == 1200
    assert Customer.objects.filter(source="import").count() == 1200
    assert ConsentRecord.objects.filter(granted=True, source="import").count() == 600
    assert Customer.objects.values("member_number").distinct().count() == 1200
    c = Customer.objects.get(email="p7@example.org")
    assert c.search_text == f"f7 l7 l7f7 p7@example.org {c.member_number}"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the bulk_create path is SQLite's")
def test_sqlite_uses_bulk_create(big_orders_file):
    with CaptureQueriesContext(connection) as ctx:
        result = orders_import(path=big_orders_file, dry_run=False)

    assert result.ok
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not any("imp_orders" in s for s in sql)
    assert any(s.startswith('INSERT INTO "customers_order"') for s in sql)
    _check_imported()

"""The cohort retention page (/staff/kpi/cohorts/) and its exports; the figures themselves are
tested in ``tests/analytics/test_cohorts.py``."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.core.models import AuditEvent
from apps.customers.enums import OrderStatus, Source
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

PAGE = "/staff/kpi/cohorts/"
# The frame (session, user, its sessions row, permissions), stores and tiers for the filters and
# the matrix, whatever the number of customers and orders.
BUDGET = 13


def month_start(months_back: int) -> dt.datetime:
    """Noon on the first of the month ``months_back`` before this one, local time."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - months_back
    day = dt.date(index // 12, index % 12 + 1, 1)
    return dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_default_timezone())


@pytest.fixture
def cohorts():
    """Last month: three members at s1, two of whom bought then and one of those this month
    too; this month: one member from the portal at s2 who bought (and was refunded in part)."""
    s1, s2 = StoreFactory(code="s1"), StoreFactory(code="s2")
    last, now = month_start(1), month_start(0)
    a, b, _c = (CustomerFactory(joined_at=last, store=s1) for _ in range(3))
    OrderFactory(customer=a, store=s1, placed_at=last, total=Decimal("100"))
    OrderFactory(customer=b, store=s1, placed_at=last, total=Decimal("50"))
    OrderFactory(customer=a, store=s1, placed_at=now, total=Decimal("30"))
    d = CustomerFactory(joined_at=now, store=s2, source=Source.PORTAL)
    OrderFactory(
        customer=d,
        store=s2,
        placed_at=now,
        total=Decimal("80"),
        refunded_amount=Decimal("20"),
        status=OrderStatus.PARTIALLY_REFUNDED,
    )
    return {"s1": s1, "s2": s2}


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


def _sheet(response):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return load_workbook(io.BytesIO(content)).active


def _page_cells(response) -> list[tuple]:
    """(cohort, members, months since, buyers, percent, revenue per member) as the page has them."""
    return [
        (row.month.strftime("%Y-%m"), row.size, k, c.buyers, c.percent, c.revenue_per_member)
        for row in response.context["matrix"].rows
        for k, c in enumerate(row.cells)
        if c is not None
    ]


def test_url_name():
    assert reverse("dashboard:kpi-cohorts") == PAGE
    assert reverse("dashboard:kpi-cohorts-export") == PAGE + "export/"


def test_manager_sees_the_heat_map(client, manager, cohorts):
    client.force_login(manager)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="cohorts"' in html
    assert "66.7%" in html and "heat heat-7" in html  # two of last month's three
    assert response.context["matrix"].members == 4
    assert "Cohort retention" in html and reverse("dashboard:kpi-cohorts") in html  # the nav


def test_revenue_per_member_measure(client, manager, cohorts):
    client.force_login(manager)
    response = client.get(PAGE, {"measure": "revenue"})
    html = response.content.decode()
    # Last month's cohort spent 150 among three members; this month's member kept 60.
    assert "¥50.00" in html and "¥60.00" in html and "heat heat-10" in html
    assert "66.7%" not in html


def test_filters_cut_the_cohorts(client, manager, cohorts):
    client.force_login(manager)
    response = client.get(PAGE, {"store": "s2", "source": Source.PORTAL, "months": "24"})
    matrix = response.context["matrix"]
    assert matrix.filters.store_id == cohorts["s2"].pk and matrix.filters.months == 24
    assert matrix.members == 1 and len(matrix.rows) == 24


def test_unknown_filter_values_are_ignored(client, manager, cohorts):
    client.force_login(manager)
    response = client.get(PAGE, {"months": "7", "store": "nowhere", "basis": "first_purchase"})
    assert response.status_code == 200
    filters = response.context["matrix"].filters
    assert (filters.months, filters.store_id, filters.basis) == (12, None, "first_purchase")


def test_administrator_sees_the_page(client, administrator):
    client.force_login(administrator)
    assert client.get(PAGE).status_code == 200


@pytest.mark.parametrize("role", ["agent", "marketer"])
def test_other_roles_are_refused(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(PAGE).status_code == 403
    assert client.get(PAGE + "export/", {"format": "csv"}).status_code == 403
    assert not AuditEvent.objects.filter(action="export.cohorts").exists()


def test_anonymous_goes_to_the_login_page(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_nav_link_only_for_managers(client, agent):
    client.force_login(agent)
    assert PAGE not in client.get(reverse("dashboard:home")).content.decode()


def test_query_budget_is_constant_in_customers(
    client, manager, count_queries, django_assert_max_num_queries
):
    client.force_login(manager)
    store = StoreFactory(code="s1")
    for k in range(2):
        customer = CustomerFactory(joined_at=month_start(k), store=store)
        OrderFactory(customer=customer, store=store, placed_at=month_start(0))
    few = count_queries(client, PAGE)
    for k in range(20):
        customer = CustomerFactory(joined_at=month_start(k % 6), store=store)
        OrderFactory(customer=customer, store=store, placed_at=month_start(k % 3))
    assert count_queries(client, PAGE) == few
    with django_assert_max_num_queries(BUDGET):
        client.get(PAGE, {"measure": "revenue", "store": "s1"})


def test_csv_export_is_the_page_and_audited(client, manager, cohorts):
    client.force_login(manager)
    query = {"store": "s1", "basis": "joined"}
    page = _page_cells(client.get(PAGE, query))
    response = client.get(PAGE + "export/", {**query, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="cohorts-joined-')
    rows = _csv(response)
    assert rows[0] == [
        "Cohort",
        "Members",
        "Months since",
        "Buyers",
        "Retention (%)",
        "Revenue (¥)",
        "Revenue per member (¥)",
    ]
    exported = [
        (r[0], int(r[1]), int(r[2]), int(r[3]), float(r[4]), Decimal(r[6])) for r in rows[1:]
    ]
    assert exported == page and len(exported) == 78
    last = [r for r in rows[1:] if r[0] == month_start(1).strftime("%Y-%m")]
    assert [r[2:] for r in last] == [
        ["0", "2", "66.7", "150.00", "50.00"],
        ["1", "1", "33.3", "30.00", "10.00"],
    ]
    event = AuditEvent.objects.get(action="export.cohorts")
    assert event.actor == manager
    assert event.after["format"] == "csv" and event.after["rows"] == 78
    assert event.after["filters"] == {
        "basis": "joined",
        "months": 12,
        "store": cohorts["s1"].pk,
    }


def test_xlsx_export_is_the_page_in_the_readers_language(client, manager, cohorts):
    client.force_login(manager)
    query = {"months": "24", "source": Source.PORTAL}
    page = _page_cells(client.get(PAGE, query))
    response = client.get(
        PAGE + "export/", {**query, "format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 200
    ws = _sheet(response)
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "同期群" and values[0][2] == "间隔月数"
    exported = [(r[0], r[1], r[2], r[3], r[4], Decimal(str(r[6]))) for r in values[1:]]
    assert exported == page and len(exported) == 24 * 25 // 2
    event = AuditEvent.objects.get(action="export.cohorts")
    assert event.after["format"] == "xlsx" and event.after["filters"]["source"] == "portal"

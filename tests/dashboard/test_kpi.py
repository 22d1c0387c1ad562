"""The KPI dashboard (/staff/kpi/): who may see it, the figures it shows for a small hand-made
shop, snapshots against live figures, the scopes, unreadable filters, query budgets, the
customers behind a number and the exports. The KPI definitions themselves are tested in
``tests/analytics/test_kpis.py``."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.analytics.kpis import DEFAULT_WINDOW, Window
from apps.analytics.models import KPISnapshot
from apps.analytics.services.segments import segment_save
from apps.core.models import AuditEvent
from apps.loyalty.models import LoyaltyAccount
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.loyalty.factories import TierFactory

pytestmark = pytest.mark.django_db

PAGE = "/staff/kpi/"
EXPORT = "/staff/kpi/export/"
# The frame (session, user, permissions, the layout's counters), the scope choices and the
# snapshot read, whatever the number of customers and orders.
SNAPSHOT_BUDGET = 20
# Live: seven windows (six trend points and a year earlier) of about eighteen aggregates each
# (139 measured).
LIVE_BUDGET = 140
# A segment scope reads the segment's rules once for the whole page (112 measured; it read
# them for every figure before, 181).
SEGMENT_LIVE_BUDGET = 115


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


def local(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def customers_url(key: str) -> str:
    return reverse("dashboard:kpi-customers", args=[key])


@pytest.fixture
def shop():
    """Yesterday: Ann (an old member of s1, gold) bought ¥120 at s1; Bo (joined ten days ago at
    s2, in Beijing) bought ¥80 at s2. Cy (an old member of s1) bought nothing."""
    s1, s2 = StoreFactory(code="s1", name="Store One"), StoreFactory(code="s2", name="Store Two")
    long_ago = timezone.now() - dt.timedelta(days=400)
    ann = CustomerFactory(first_name="Ann", store=s1, joined_at=long_ago, city="Shanghai")
    bo = CustomerFactory(
        first_name="Bo",
        store=s2,
        joined_at=local(yesterday() - dt.timedelta(days=9)),
        city="Beijing",
    )
    cy = CustomerFactory(first_name="Cy", store=s1, joined_at=long_ago, city="Shanghai")
    OrderFactory(customer=ann, store=s1, placed_at=local(yesterday()), total=Decimal("120"))
    OrderFactory(customer=bo, store=s2, placed_at=local(yesterday()), total=Decimal("80"))
    gold = TierFactory(slug="gold", name="Gold")
    LoyaltyAccount.objects.create(customer=ann, tier=gold)
    beijing = segment_save(
        actor=None,
        rules={"all": [{"field": "customer.city", "op": "eq", "value": "Beijing"}]},
        names={"name_en": "Beijing"},
    )
    return {"s1": s1, "s2": s2, "gold": gold, "beijing": beijing, "ann": ann, "bo": bo, "cy": cy}


def card(html: str, key: str) -> str:
    """The text of the card ``data-testid="kpi-<key>"`` (tags dropped, spaces squeezed)."""
    match = re.search(
        rf'<div class="stat kpi-card" data-testid="kpi-{key}">(.*?)<canvas', html, re.S
    )
    assert match, f"no card {key}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def value(html: str, key: str) -> str:
    """The figure a card shows."""
    match = re.search(
        rf'data-testid="kpi-{key}">.*?<div class="stat-value tabular">(.*?)</div>', html, re.S
    )
    assert match, f"no card {key}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def snapshot(day: dt.date, scope: str = "all", **values) -> KPISnapshot:
    return KPISnapshot.objects.create(
        day=day, scope=scope, window_days=DEFAULT_WINDOW, values=values
    )


# --- access --------------------------------------------------------------------------------------


def test_url_names():
    assert reverse("dashboard:kpi") == PAGE
    assert reverse("dashboard:kpi-export") == EXPORT
    assert customers_url("members") == PAGE + "members/customers/"


def test_manager_sees_the_page(client, manager):
    client.force_login(manager)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="kpi-members"' in html and 'data-testid="kpi-retention_roi"' in html
    assert 'id="kpi-trend"' in html


@pytest.mark.parametrize("role", ["agent", "marketer"])
def test_other_roles_are_refused(client, request, role, shop):
    client.force_login(request.getfixturevalue(role))
    assert client.get(PAGE).status_code == 403
    assert client.get(customers_url("new_members")).status_code == 403
    assert client.get(EXPORT, {"format": "csv"}).status_code == 403
    assert not AuditEvent.objects.filter(action="export.kpi").exists()


def test_anonymous_goes_to_the_login_page(client):
    for url in (PAGE, EXPORT, customers_url("members")):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


# --- the figures ---------------------------------------------------------------------------------


def test_live_figures_for_a_small_shop(client, manager, shop):
    client.force_login(manager)
    response = client.get(PAGE)
    html = response.content.decode()
    assert response.context["board"].live
    assert "Computed from the orders now." in html and "From the daily snapshots." not in html
    assert value(html, "orders") == "2"
    assert value(html, "revenue") == "¥200"
    assert value(html, "aov") == "¥100"
    assert value(html, "members") == "3"
    assert value(html, "new_members") == "1"
    assert value(html, "frequency") == "1.00"
    # Nothing was sold in the window before: no change to show.
    assert "vs before –" in card(html, "orders")
    # The people behind a count are a link; a sum of money is not.
    assert f'href="{customers_url("new_members")}?day=' in html
    assert f'href="{customers_url("revenue")}' not in html
    # No survey answers: NPS shows a dash, not a link to an empty list.
    assert value(html, "nps") == "–"
    assert f'href="{customers_url("nps")}' not in html


def test_the_page_reads_yesterdays_snapshot(client, manager, shop):
    snapshot(yesterday(), members=4242, orders=77, revenue=12345.5, repeat_rate=12.5)
    client.force_login(manager)
    response = client.get(PAGE)
    html = response.content.decode()
    assert not response.context["board"].live
    assert "From the daily snapshots." in html and "Computed from the orders now." not in html
    assert value(html, "members") == "4,242"
    assert value(html, "orders") == "77"
    assert value(html, "revenue") == "¥12,346"
    assert value(html, "repeat_rate") == "12.5%"
    assert value(html, "nps") == "–"  # a KPI the snapshot does not hold
    # The window before is computed live (no snapshot): the shop sold nothing then.
    assert "vs before –" in card(html, "orders")
    assert len(response.context["trend"]["labels"]) == 90


def test_a_change_against_the_window_before(client, manager, shop):
    before = yesterday() - dt.timedelta(days=DEFAULT_WINDOW)
    snapshot(yesterday(), orders=30, churn_rate=20.0)
    snapshot(before, orders=20, churn_rate=25.0)
    client.force_login(manager)
    html = client.get(PAGE).content.decode()
    orders, churn = card(html, "orders"), card(html, "churn_rate")
    assert "vs before +50.0%" in orders
    assert '<span class="text-success">+50.0%</span>' in html
    # A rate changes in points, and lower churn is good.
    assert "vs before −5.0 pts" in churn
    assert '<span class="text-success">−5.0 pts</span>' in html


@pytest.mark.parametrize(
    ("scope", "orders", "members", "new"),
    [
        ("store:s1", "1", "2", "0"),
        ("store:s2", "1", "1", "1"),
        ("tier:gold", "1", "1", "0"),
        ("segment:beijing", "1", "1", "1"),
    ],
)
def test_scopes(client, manager, shop, scope, orders, members, new):
    kind, name = scope.split(":")
    key = f"{kind}:{shop[name].pk}"
    client.force_login(manager)
    response = client.get(PAGE, {"scope": key})
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["scope_key"] == key
    assert f'<option value="{key}" selected>' in html
    assert (value(html, "orders"), value(html, "members"), value(html, "new_members")) == (
        orders,
        members,
        new,
    )
    # Campaign results are whole-programme figures.
    assert 'data-testid="kpi-campaign_uplift"' not in html
    assert "whole-programme figures" in html


def test_a_store_scope_reads_the_stores_snapshot(client, manager, shop):
    key = f"store:{shop['s1'].pk}"
    snapshot(yesterday(), members=4242)
    snapshot(yesterday(), scope=key, members=17)
    client.force_login(manager)
    html = client.get(PAGE, {"scope": key}).content.decode()
    assert value(html, "members") == "17" and "From the daily snapshots." in html


def test_another_window_is_computed_live(client, manager, shop):
    snapshot(yesterday(), members=4242)
    client.force_login(manager)
    response = client.get(PAGE, {"window": "7"})
    html = response.content.decode()
    assert response.context["window"] == 7 and response.context["board"].live
    assert value(html, "members") == "3" and "Computed from the orders now." in html


@pytest.mark.parametrize(
    "query",
    [
        {"day": "yesterday"},
        {"day": "2026-02-30"},
        {"day": "0001-01-01"},
        {"window": "13"},
        {"window": "thirty"},
        {"scope": "store:abc"},
        {"scope": "planet:3"},
        {"day": "", "window": "", "scope": ""},
    ],
)
def test_unreadable_filters_fall_back_to_the_defaults(client, manager, shop, query):
    client.force_login(manager)
    response = client.get(PAGE, query)
    assert response.status_code == 200
    context = response.context
    assert (context["day"], context["window"], context["scope_key"]) == (
        yesterday(),
        DEFAULT_WINDOW,
        "all",
    )
    assert value(response.content.decode(), "orders") == "2"
    assert client.get(EXPORT, {**query, "format": "csv"}).status_code == 200


def test_unknown_scope_ids_show_nothing_rather_than_fail(client, manager, shop):
    client.force_login(manager)
    for scope in ("store:999999", "tier:999999", "segment:999999", "store:99999999999999999999"):
        response = client.get(PAGE, {"scope": scope})
        assert response.status_code == 200, scope
    html = client.get(PAGE, {"scope": "store:999999"}).content.decode()
    assert value(html, "orders") == "0"
    # A segment deleted since (or never there) counts nobody, not everybody.
    html = client.get(PAGE, {"scope": "segment:999999"}).content.decode()
    assert value(html, "members") == "0"


def test_a_future_day_is_clamped_to_yesterday(client, manager, shop):
    client.force_login(manager)
    for day in (timezone.localdate(), timezone.localdate() + dt.timedelta(days=40)):
        response = client.get(PAGE, {"day": day.isoformat()})
        assert response.context["day"] == yesterday()
        assert value(response.content.decode(), "orders") == "2"


def test_an_earlier_day(client, manager, shop):
    day = yesterday() - dt.timedelta(days=DEFAULT_WINDOW)
    client.force_login(manager)
    response = client.get(PAGE, {"day": day.isoformat()})
    html = response.content.decode()
    assert response.context["day"] == day
    assert value(html, "orders") == "0" and value(html, "members") == "2"  # Bo not yet joined


# --- query budgets -------------------------------------------------------------------------------


def _people(n: int, store) -> None:
    for k in range(n):
        customer = CustomerFactory(store=store)
        OrderFactory(customer=customer, store=store, placed_at=local(yesterday() - dt.timedelta(k)))


def test_snapshot_mode_costs_the_same_whatever_the_number_of_customers(
    client, manager, shop, count_queries, django_assert_max_num_queries
):
    window = Window(yesterday())
    for day in (window.day, window.before().day, window.before(365).day):
        snapshot(day, members=1, orders=1)
    client.force_login(manager)
    _people(5, shop["s1"])
    few = count_queries(client, PAGE)
    _people(45, shop["s1"])
    assert count_queries(client, PAGE) == few
    with django_assert_max_num_queries(SNAPSHOT_BUDGET):
        response = client.get(PAGE)
    assert not response.context["board"].live


def test_live_mode_is_bounded(client, manager, shop, count_queries, django_assert_max_num_queries):
    client.force_login(manager)
    _people(5, shop["s1"])
    few = count_queries(client, PAGE)
    _people(45, shop["s1"])
    assert count_queries(client, PAGE) == few
    with django_assert_max_num_queries(LIVE_BUDGET):
        response = client.get(PAGE, {"window": "90", "scope": f"store:{shop['s1'].pk}"})
    assert response.context["board"].live
    with django_assert_max_num_queries(SEGMENT_LIVE_BUDGET):
        response = client.get(PAGE, {"scope": f"segment:{shop['beijing'].pk}"})
    assert response.context["board"].live


# --- the customers behind a number ---------------------------------------------------------------


def test_the_new_members_behind_the_number(client, manager, shop):
    client.force_login(manager)
    response = client.get(customers_url("new_members"))
    assert response.status_code == 200
    html = response.content.decode()
    assert list(response.context["page_obj"].object_list) == [shop["bo"]]
    assert shop["bo"].member_number in html and shop["ann"].member_number not in html
    assert re.search(r'data-testid="kpi-people-count">\s*1 customer\s*<', html)


def test_the_members_behind_the_number_in_a_scope(client, manager, shop):
    client.force_login(manager)
    response = client.get(customers_url("members"), {"scope": f"store:{shop['s1'].pk}"})
    assert {c.pk for c in response.context["page_obj"].object_list} == {
        shop["ann"].pk,
        shop["cy"].pk,
    }
    assert "(Store One)" in response.content.decode()


@pytest.mark.parametrize("key", ["revenue", "orders", "liability", "nobody"])
def test_a_kpi_without_people_has_no_list(client, manager, shop, key):
    client.force_login(manager)
    assert client.get(customers_url(key)).status_code == 404


# --- exports -------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode("utf-8").lstrip("\ufeff"), newline="")))


def _sheet(response) -> list[tuple]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def test_csv_export_is_the_page_and_audited(client, manager, shop):
    client.force_login(manager)
    query = {"scope": f"store:{shop['s1'].pk}"}
    board = client.get(PAGE, query).context["board"]
    response = client.get(EXPORT, {**query, "format": "csv"})
    assert response.status_code == 200
    assert f'filename="kpi-{yesterday():%Y%m%d}-30d' in response["Content-Disposition"]
    rows = _csv(response)
    header = rows[0]
    assert header[:4] == ["As of", "Members", "New members", "Active members"]
    assert "Revenue from members (¥)" in header and "Repeat-purchase rate (%)" in header
    assert "Retention ROI (%)" not in header  # a whole-programme figure, out of a store's scope
    assert [r[0] for r in rows[1:]] == [d.isoformat() for d in board.trend_days]
    last = dict(zip(header, rows[-1], strict=True))
    assert last["As of"] == yesterday().isoformat()
    assert (last["Orders"], last["Revenue from members (¥)"], last["Members"]) == (
        "1",
        "120.00",
        "2",
    )
    page = {card.kpi.key: card.value for card in board.cards}
    assert (page["orders"], page["revenue"], page["members"]) == (1, 120.0, 2)
    event = AuditEvent.objects.get(action="export.kpi")
    assert event.actor == manager
    assert event.after["format"] == "csv" and event.after["rows"] == len(rows) - 1
    assert event.after["filters"] == {
        "day": yesterday().isoformat(),
        "window": 30,
        "scope": f"store:{shop['s1'].pk}",
    }


def test_xlsx_export_is_in_the_readers_language(client, manager, shop):
    snapshot(yesterday(), members=4242, orders=77, revenue=12345.5)
    client.force_login(manager)
    response = client.get(EXPORT, {"format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    rows = _sheet(response)
    header = rows[0]
    assert header[0] == "截至" and header[1] == "会员数" and "订单" in header
    assert len(rows) == 1 + 90
    last = dict(zip(header, rows[-1], strict=True))
    assert (last["会员数"], last["订单"], last["会员收入 (¥)"]) == (4242, 77, 12345.5)
    assert all(r[1] is None for r in rows[1:-1])  # no snapshot for the other days
    event = AuditEvent.objects.get(action="export.kpi")
    assert event.after["format"] == "xlsx"
    assert event.after["filters"] == {"day": yesterday().isoformat(), "window": 30, "scope": "all"}


# --- Chinese -------------------------------------------------------------------------------------


def test_chinese_labels(client, manager, shop):
    snapshot(yesterday(), members=4242)
    client.force_login(manager)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(PAGE).content.decode()
    assert "关键指标" in html and "来自每日快照。" in html and "环比" in html
    assert "新会员" in card(html, "new_members") and "会员收入" in card(html, "revenue")
    assert "整个会员计划" in html
    assert "From the daily snapshots." not in html and "New members" not in html
    people = client.get(customers_url("new_members")).content.decode()
    assert "新会员" in people and "New members" not in people

"""Query budgets: each page costs the same number of queries with 5 rows or 500, and stays
under a fixed ceiling. The counts include the session, the user and the permission lookups."""

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.customers.models import Customer, Order, OrderLine
from tests.customers.factories import CustomerFactory, StoreFactory, TagFactory

from .customer_history import grow_history

pytestmark = pytest.mark.django_db

LIST_BUDGET = 15  # +1 on every staff page: the Administration link asks for the role
# The 360 page (the session, user and permission reads, the profile, figures, consents and
# privacy, a page of the timeline: one query per kind of event) and each of its tabs, read on
# their own when first shown.
DETAIL_BUDGET = 28
PANEL_BUDGETS = {"loyalty": 21, "surveys": 13, "tickets": 11, "orders": 13, "interactions": 11}
ORDERS_BUDGET = 13
HOME_BUDGET = (
    19  # a manager: the ledger banner, the KPI snapshot read, the role, two approval queues
)


def _customers(n: int, store) -> None:
    tags = [TagFactory(name=f"t{i}") for i in range(3)]
    made = CustomerFactory.create_batch(n, store=store)
    through = Customer.tags.through
    through.objects.bulk_create(
        through(customer_id=c.pk, tag_id=tags[i % 3].pk) for i, c in enumerate(made)
    )


def _orders(customer, store, n: int, start: int) -> None:
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            store=store,
            customer=customer,
            external_id=f"Q-{start + i}",
            placed_at=now - dt.timedelta(hours=start + i),
            total=Decimal("10.00"),
        )
        for i in range(n)
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=o, sku=f"S{j}", unit_price=Decimal("5.00"), quantity=Decimal(1))
        for o in orders
        for j in range(2)
    )


def test_customer_list_budget(client, agent, store, count_queries, django_assert_max_num_queries):
    client.force_login(agent)
    url = reverse("dashboard:customer-list")
    _customers(5, store)
    small = count_queries(client, url)
    _customers(495, store)
    large = count_queries(client, url)
    assert small == large
    with django_assert_max_num_queries(LIST_BUDGET):
        client.get(url, {"q": "a", "sort": "name", "page": 2})


def test_customer_list_htmx_partial_budget(client, agent, store, count_queries):
    client.force_login(agent)
    url = reverse("dashboard:customer-list") + "?q=e"
    headers = {"HX-Request": "true", "HX-Target": "customer-results"}
    _customers(5, store)
    small = count_queries(client, url, headers=headers)
    _customers(495, store)
    assert count_queries(client, url, headers=headers) == small <= LIST_BUDGET


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_customer_360_budget(
    request, role, client, store, count_queries, django_assert_max_num_queries
):
    """No more queries for more rows of each kind than any panel shows than for one row of each
    kind (orders, ledger rows, redemptions, complaints, survey responses, campaign messages,
    calls and notes, consent changes, tags, tier changes)."""
    staff = request.getfixturevalue(role)
    customer = CustomerFactory(store=store)
    client.force_login(staff)
    url = reverse("dashboard:customer-detail", args=[customer.member_number])
    grow_history(customer, n=1, start=0, staff=staff, store=store)
    small = count_queries(client, url)
    grow_history(customer, n=54, start=1, staff=staff, store=store)
    large = count_queries(client, url)
    # Bounded whatever the history: one query finds the page, then one or two per kind of
    # event on it (one row of each kind puts every kind on the page: the most it costs).
    assert large <= small <= DETAIL_BUDGET
    with django_assert_max_num_queries(DETAIL_BUDGET):
        response = client.get(url)
    assert response.context["stats"].orders == 55
    timeline = response.context["timeline"]
    assert len(timeline.events) == 25 and timeline.older is not None
    # The next page of the timeline costs the same, and goes on where the first stopped.
    older = reverse("dashboard:customer-panel", args=[customer.member_number, "timeline"])
    older += "?" + urlencode({"before": timeline.older.isoformat()})
    assert count_queries(client, older) <= DETAIL_BUDGET
    page_two = client.get(older).context["timeline"]
    assert len(page_two.events) >= 25 and page_two.events[0].at < timeline.events[-1].at


@pytest.mark.parametrize("panel", sorted(PANEL_BUDGETS))
def test_customer_360_tab_budgets(request, panel, client, manager, store, count_queries):
    """Each tab of the 360 page, read on its own: the same count for one row of each kind as
    for more than it shows."""
    customer = CustomerFactory(store=store)
    client.force_login(manager)
    url = reverse("dashboard:customer-panel", args=[customer.member_number, panel])
    grow_history(customer, n=1, start=0, staff=manager, store=store)
    small = count_queries(client, url)
    grow_history(customer, n=54, start=1, staff=manager, store=store)
    assert count_queries(client, url) == small <= PANEL_BUDGETS[panel]
    response = client.get(url)
    if panel == "orders":
        assert len(response.context["orders"]) == 20
    elif panel == "interactions":
        assert len(response.context["interactions"]) == 50


def test_order_list_budget(client, agent, store, count_queries, django_assert_max_num_queries):
    client.force_login(agent)
    url = reverse("dashboard:order-list")
    other = StoreFactory(code="other")
    customers = CustomerFactory.create_batch(5, store=store)
    for i, c in enumerate(customers):
        _orders(c, store if i % 2 else other, 1, i)
    small = count_queries(client, url)
    for i, c in enumerate(customers):
        _orders(c, store, 99, 1000 + i * 100)
    large = count_queries(client, url)
    assert small == large
    with django_assert_max_num_queries(ORDERS_BUDGET):
        client.get(url, {"store": store.code, "page": 3})


def test_home_budget(client, manager, store, count_queries):
    client.force_login(manager)
    url = reverse("dashboard:home")
    _customers(5, store)
    small = count_queries(client, url)
    _customers(495, store)
    assert count_queries(client, url) == small <= HOME_BUDGET

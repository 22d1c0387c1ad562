"""The timeline's windowing query (apps.core.timeline): on PostgreSQL the union of every kind's
newest row times is compiled once per process for stand-ins and run with each page's own
customer and time; a source that uses more of the customer than its id is compiled per page."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from apps.core import timeline
from apps.customers.models import Order
from tests.customers.factories import CustomerFactory, InteractionFactory, OrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def histories(store):
    """Two members, each with ten orders and an interaction, a day apart."""
    base = timezone.now() - dt.timedelta(days=30)
    out = {}
    for name in ("ann", "bo"):
        customer = CustomerFactory(store=store)
        for i in range(10):
            OrderFactory(
                customer=customer,
                store=store,
                external_id=f"{name}-{i}",
                placed_at=base + dt.timedelta(days=i),
            )
        InteractionFactory(customer=customer, at=base + dt.timedelta(days=3, hours=1))
        out[name] = customer
    return out


def _orders(page) -> list[str]:
    return [e.title.split()[1] for e in page.events if e.kind == "order"]


def _pages(customer, limit: int) -> list[list[str]]:
    pages, before = [], None
    while True:
        page = timeline.timeline_page(customer, limit=limit, before=before)
        pages.append(_orders(page))
        if page.older is None:
            return pages
        before = page.older


@pytest.fixture
def fresh_unions(monkeypatch):
    monkeypatch.setattr(timeline, "_unions", {})
    return timeline._unions


def test_one_compiled_union_serves_every_customer_and_page(histories, fresh_unions):
    ann, bo = histories["ann"], histories["bo"]
    assert _pages(ann, limit=4) == [
        ["ann-9", "ann-8", "ann-7", "ann-6"],
        ["ann-5", "ann-4", "ann-3"],  # the interaction is the page's fourth row
        ["ann-2", "ann-1", "ann-0"],
    ]
    assert set(fresh_unions) == {(False, 5), (True, 5)}
    assert all(compiled is not None for compiled in fresh_unions.values())
    # The same statements, another member's rows.
    assert _pages(bo, limit=4)[1] == ["bo-5", "bo-4", "bo-3"]
    assert len(fresh_unions) == 2
    with connection.cursor() as cursor:  # the stand-in's id never reaches the database
        sql, params = timeline._union_statement(bo, before=None, n=5)
        assert timeline._STAND_IN_PK not in params and bo.pk in params
        cursor.execute(sql, params)


def test_a_source_using_more_than_the_customers_id_is_compiled_per_page(
    histories, fresh_unions, monkeypatch
):
    by_number = timeline.Source(
        name="orders-by-number",
        rows=lambda *, customer: Order.objects.filter(
            customer__member_number=customer.member_number
        ).exclude(external_id__endswith="-9"),
        key="placed_at",
        events=lambda rows, *, customer: [],
    )
    monkeypatch.setattr(timeline, "_sources", [*timeline._sources, by_number])
    # Compiled for the stand-in, that source would have asked for an empty member number.
    assert timeline._union_statement(histories["ann"], before=None, n=5) is None
    ann, bo = histories["ann"], histories["bo"]
    assert _orders(timeline.timeline_page(ann, limit=4)) == ["ann-9", "ann-8", "ann-7"]
    assert _orders(timeline.timeline_page(bo, limit=4)) == ["bo-9", "bo-8", "bo-7"]

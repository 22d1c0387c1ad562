import datetime as dt
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.customers.models import Customer, Order, Store
from tests.customers.factories import CustomerFactory


def local_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_default_timezone())


def make_history(
    *, customers: int = 60, days: int = 400, seed: int = 1, end: dt.date | None = None
):
    """A programme's history: customers with a personal buying rate, some of whom stop buying
    part-way (the process BG/NBD describes), orders up to ``end`` (default yesterday)."""
    rng = random.Random(seed)
    end = end or timezone.localdate() - dt.timedelta(days=1)
    store = Store.objects.get_or_create(code="hist", defaults={"name": "History"})[0]
    people = CustomerFactory.create_batch(customers)
    orders = []
    for n, person in enumerate(people):
        start = end - dt.timedelta(days=rng.randrange(60, days))
        rate = rng.choice([1 / 10, 1 / 25, 1 / 45, 1 / 90])
        stop = start + dt.timedelta(days=rng.randrange(20, days)) if rng.random() < 0.5 else end
        day, k = start, 0
        while day <= min(stop, end):
            orders.append(
                Order(
                    store=store,
                    customer=person,
                    external_id=f"H{n}-{k}",
                    placed_at=local_noon(day),
                    total=Decimal(rng.randrange(40, 400)),
                )
            )
            k += 1
            day += dt.timedelta(days=max(1, round(rng.expovariate(rate))))
    Order.objects.bulk_create(orders)
    return people


@pytest.fixture
def history(db):
    return make_history()


@pytest.fixture
def bare_customer(db) -> Customer:
    return CustomerFactory()

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.loyalty.services import order_ingest
from tests.loyalty.factories import ProgrammeFactory, TierFactory


@pytest.fixture
def programme(db):
    return ProgrammeFactory()


@pytest.fixture
def tiers(db):
    return [
        TierFactory(slug="member", rank=0),
        TierFactory(
            slug="silver",
            rank=1,
            threshold=Decimal(1000),
            retention_threshold=Decimal(800),
            earn_multiplier=Decimal("1.25"),
        ),
        TierFactory(
            slug="gold",
            rank=2,
            threshold=Decimal(5000),
            retention_threshold=Decimal(4000),
            earn_multiplier=Decimal("1.5"),
        ),
    ]


@pytest.fixture
def buy(store):
    """Post an order through the loyalty engine: buy(customer, total, days_ago=0, id=None, lines=())."""
    counter = {"n": 0}

    def _buy(customer, total, *, days_ago=0, external_id=None, lines=(), channel=""):
        counter["n"] += 1
        return order_ingest(
            store=store,
            external_id=external_id or f"O-{counter['n']}",
            customer=customer,
            placed_at=timezone.now() - dt.timedelta(days=days_ago),
            total=Decimal(total),
            lines=lines,
            channel=channel,
        )

    return _buy

import datetime as dt

import pytest
from django.utils import timezone

from tests.loyalty.factories import ProgrammeFactory


def order_payload(**over) -> dict:
    """A ``POST /orders/`` body: order POS-1 of the shared customer (1234567897) at sh-01,
    placed 30 days ago for 250.00; ``over`` replaces or adds fields."""
    body = {
        "external_id": "POS-1",
        "member_number": "1234567897",
        "store": "sh-01",
        "placed_at": (timezone.now() - dt.timedelta(days=30)).isoformat(),
        "total": "250.00",
    }
    return {**body, **over}


@pytest.fixture
def order_body(customer):
    """The default programme (points available at once) and ``order_payload()``."""
    ProgrammeFactory()
    return order_payload()

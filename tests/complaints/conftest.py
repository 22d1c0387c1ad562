import datetime as dt
import zoneinfo

import pytest

from apps.complaints.enums import TicketChannel
from apps.complaints.services.tickets import ticket_open

from .factories import CategoryFactory, SLAPolicyFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, e.g. ``at("2026-09-25 17:30")`` (a Friday)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def category(db):
    return CategoryFactory(code="delivery", name_en="Delivery", name_zh_hans="配送")


@pytest.fixture
def policy(db):
    """First response within 60, resolution within 480 business minutes, any ticket."""
    return SLAPolicyFactory(position=10)


@pytest.fixture
def open_ticket(customer, category, policy):
    def make(when: str = "2026-09-25 10:00", **kwargs):
        return ticket_open(
            customer=customer,
            category=kwargs.pop("category", category),
            subject=kwargs.pop("subject", "Parcel arrived damaged"),
            description=kwargs.pop("description", "The box was crushed."),
            channel=kwargs.pop("channel", TicketChannel.PHONE),
            at=at(when),
            **kwargs,
        )

    return make

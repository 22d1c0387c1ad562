"""The unsubscribe endpoint limits only bad tokens: a shared mail server relays many members'
genuine RFC 8058 one-click POSTs from one IP and none of them may be dropped."""

from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from apps.customers.models import ConsentRecord
from apps.customers.services import unsubscribe_token_make
from apps.portal.views.privacy import INVALID_TOKENS_PER_MINUTE
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

MAIL_SERVER = {"REMOTE_ADDR": "203.0.113.25"}


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """The limit counts in fixed one-minute windows: hold the clock, so a test that crosses a
    minute boundary does not start a new window half-way."""
    monkeypatch.setattr("apps.portal.ratelimit.time", SimpleNamespace(time=lambda: 1_800_000_000.0))


def _one_click(client: Client, token: str):
    return client.post(
        reverse("portal:unsubscribe", args=[token]),
        {"List-Unsubscribe": "One-Click"},
        **MAIL_SERVER,
    )


def test_many_genuine_one_click_requests_from_one_server_all_count():
    client = Client(enforce_csrf_checks=True)
    members = CustomerFactory.create_batch(INVALID_TOKENS_PER_MINUTE + 15)
    statuses = [
        _one_click(
            client, unsubscribe_token_make(customer=c, channel="email", purpose="marketing")
        ).status_code
        for c in members
    ]
    assert statuses == [200] * len(members)
    assert ConsentRecord.objects.filter(granted=False, source="unsubscribe_link").count() == len(
        members
    )


def test_bad_tokens_are_limited_but_a_genuine_request_still_goes_through():
    client = Client(enforce_csrf_checks=True)
    for n in range(INVALID_TOKENS_PER_MINUTE):
        assert _one_click(client, f"forged-{n}").status_code == 404
    assert _one_click(client, "forged-again").status_code == 429
    assert ConsentRecord.objects.count() == 0

    member = CustomerFactory()
    token = unsubscribe_token_make(customer=member, channel="email", purpose="marketing")
    assert _one_click(client, token).status_code == 200
    record = ConsentRecord.objects.get(customer=member)
    assert (record.channel, record.purpose, record.granted) == ("email", "marketing", False)
    # Another address is not limited by this one's bad tokens.
    other = client.post(reverse("portal:unsubscribe", args=["forged"]), REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 404

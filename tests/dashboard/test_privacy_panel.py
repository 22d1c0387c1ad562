"""The staff 360° page shows the portal and privacy panel; Export / Erase follow permissions."""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord
from apps.customers.services import consent_preferences_save, customer_erase
from tests.conftest import enrolled_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal_member(db):
    user, customer = enrolled_member("mei.lin@example.org", first_name="Mei", last_name="Lin")
    EmailAddress.objects.create(user=user, email="mei@work.example", verified=False)
    consent_preferences_save(
        customer=customer, choices={("sms", "marketing"): True}, actor=user, evidence="portal"
    )
    return customer


def _panel(client, customer) -> str:
    response = client.get(reverse("dashboard:customer-detail", args=[customer.member_number]))
    assert response.status_code == 200
    page = response.content.decode()
    start = page.index('id="privacy-panel"')
    return page[start : page.index("</section>", start)]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_manager_sees_the_panel_with_export_and_erase(client, manager, portal_member):
    client.force_login(manager)
    panel = _panel(client, portal_member)
    export = reverse("dashboard:customer-privacy-export", args=[portal_member.member_number])
    erase = reverse("dashboard:customer-erase", args=[portal_member.member_number])
    assert f'href="{export}"' in panel and f'href="{erase}"' in panel
    assert "Portal account Active Last sign-in" in _text(panel)
    assert "mei.lin@example.org" in panel and "mei@work.example (unverified)" in panel
    assert "SMS · Marketing" in panel  # consent history
    # The privacy audit trail, in words rather than action codes.
    assert "Consent given" in panel and "Membership claimed" in panel
    assert "consent.grant" not in panel


def test_agent_sees_the_panel_without_export_or_erase(client, agent, portal_member):
    client.force_login(agent)
    panel = _panel(client, portal_member)
    assert "mei.lin@example.org" in panel and "Consent given" in panel
    assert "privacy/export" not in panel and "privacy/erase" not in panel


def test_an_erased_customer_shows_no_erase_button(client, manager, portal_member):
    customer_erase(customer=portal_member, actor=manager)
    client.force_login(manager)
    panel = _panel(client, portal_member)
    assert "Personal data erased on" in panel and "privacy/erase" not in panel
    assert "Portal account None Verified e-mail" in _text(panel)  # the account was unlinked


def test_the_panel_costs_the_same_queries_whatever_the_history(
    client, manager, portal_member, count_queries
):
    user = portal_member.user
    client.force_login(manager)
    url = reverse("dashboard:customer-detail", args=[portal_member.member_number])

    def grow(n: int, start: int) -> None:
        ConsentRecord.objects.bulk_create(
            ConsentRecord(
                customer=portal_member,
                channel="email",
                purpose="marketing",
                granted=bool(i % 2),
                source="portal",
                actor=user,
            )
            for i in range(n)
        )
        AuditEvent.objects.bulk_create(
            AuditEvent(
                action="consent.grant",
                target_type="customers.customer",
                target_id=str(portal_member.pk),
                actor=user,
                summary="email/marketing",
            )
            for _ in range(n)
        )
        UserSession.objects.bulk_create(
            UserSession(user=user, ip="203.0.113.9", session_key=f"s{start + i}", user_agent="x")
            for i in range(n)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=user, email=f"old{start + i}@example.org", verified=True)
            for i in range(n)
        )

    grow(3, 0)
    small = count_queries(client, url)
    grow(120, 3)
    # No more with more history: the timeline reads only the kinds on its first page.
    assert count_queries(client, url) <= small

"""Webhooks in Chromium: an Administrator finds Webhooks in the navigation, subscribes a local
receiver to two events (checkboxes), copies the secret shown once, sends a test event, and opens
the delivery from the log. Screenshots under var/screenshots/ (webhooks-*)."""

import pytest
from playwright.sync_api import expect

from apps.accounts import roles
from apps.integrations.models import Delivery, Endpoint
from apps.integrations.signing import signature_verify
from tests.browser.conftest import login, screenshot
from tests.conftest import make_staff, with_verified_email
from tests.integrations.receiver import receiver_start, receiver_stop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    receiver = receiver_start()
    yield receiver
    receiver_stop(receiver)


def test_an_administrator_subscribes_an_endpoint_and_sends_a_test_event(page, receiver):
    with_verified_email(
        make_staff(roles.ADMINISTRATOR, email="admin@test.local", is_superuser=True)
    )
    login(page, "admin@test.local")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    page.get_by_role("link", name="New endpoint").first.click()
    page.fill("input[name=url]", receiver.url)
    page.fill("input[name=description]", "Web shop")
    page.get_by_label("Order earned points").check()
    page.get_by_label("Tier changed").check()
    screenshot(page, "webhooks-form")
    page.get_by_role("button", name="Create").click()

    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["order.earned", "tier.changed"]
    expect(page.locator("#webhook-secret")).to_have_text(endpoint.secret)
    screenshot(page, "webhooks-secret")

    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_text("Test event sent")).to_be_visible()
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("Delivered")
    screenshot(page, "webhooks-log")
    assert page.locator("#webhook-secret").count() == 0  # shown once

    request = receiver.requests[0]
    assert signature_verify(
        secret=endpoint.secret, header=request.headers["Clientele-Signature"], body=request.body
    )
    row.get_by_role("link").click()
    expect(page.get_by_text(str(Delivery.objects.get().pk))).to_be_visible()
    expect(page.locator("pre").first).to_contain_text('"type": "webhook.test"')
    screenshot(page, "webhooks-delivery")

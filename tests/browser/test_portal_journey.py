"""A shopper enrolled at a till signs up on the portal, verifies the e-mail from the outbox,
claims the till membership, changes a consent, downloads their data and deletes the account —
on a phone-sized screen and on a desktop, with screenshots under var/screenshots/."""

import re

import pytest
from django.core import mail

from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord, Customer
from tests.browser.conftest import screenshot
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "journey-Secret-2468"


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_member_journey(request, device):
    page = request.getfixturevalue("phone_page" if device == "phone" else "page")
    email = f"lin.{device}@example.org"
    till = CustomerFactory(first_name="Lin", last_name="Wei", email=email, source="store")
    OrderFactory(customer=till)
    mail.outbox.clear()

    page.goto(page.base_url + "/")
    screenshot(page, f"portal-{device}-01-landing")
    page.goto(page.base_url + "/accounts/signup/")
    page.fill("input[name=first_name]", "Lin")
    page.fill("input[name=last_name]", "Wei")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.check("input[name=consent_email_marketing]")
    screenshot(page, f"portal-{device}-02-signup")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    screenshot(page, f"portal-{device}-03-verification-sent")

    assert len(mail.outbox) == 1 and mail.outbox[0].to == [email]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    page.goto(page.base_url + link[link.index("/accounts/") :])
    page.click("main form button[type=submit]")  # "Confirm"
    page.wait_for_url(re.compile(r"/me/join/"))
    screenshot(page, f"portal-{device}-04-join")
    assert "We found your membership" in page.content()

    page.click("text=Add it to my account")
    page.wait_for_url(re.compile(r"/me/$"))
    till.refresh_from_db()
    assert till.user is not None and till.user.email == email
    # The permission ticked at sign-up applies to the claimed membership.
    assert ConsentRecord.objects.filter(
        customer=till, channel="email", purpose="marketing", granted=True, source="portal_signup"
    ).exists()
    screenshot(page, f"portal-{device}-05-overview")

    page.goto(page.base_url + "/me/card/")
    assert page.locator("svg.member-qr").count() == 1
    assert page.inner_text("[data-testid=member-number]") == till.member_number
    screenshot(page, f"portal-{device}-06-card")

    page.goto(page.base_url + "/me/privacy/")
    page.check("input[name=sms__marketing]")
    page.click("#preferences button[type=submit]")
    page.wait_for_url(re.compile(r"/me/privacy/$"))
    assert ConsentRecord.objects.filter(
        customer=till, channel="sms", purpose="marketing", granted=True, source="portal"
    ).exists()
    screenshot(page, f"portal-{device}-07-privacy")

    page.click("text=Download my data >> nth=-1")
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    screenshot(page, f"portal-{device}-08-reauthenticate")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_download() as download_info:
        page.click("main form button[type=submit]")
    assert download_info.value.suggested_filename.startswith(f"clientele-{till.member_number}")
    assert AuditEvent.objects.filter(action="customer.export", target_id=str(till.pk)).exists()

    page.goto(page.base_url + "/me/privacy/delete/")
    page.check("input[name=confirm]")
    screenshot(page, f"portal-{device}-09-delete")
    page.click("form button.btn-danger")
    page.wait_for_url(re.compile(r"/goodbye/"))
    screenshot(page, f"portal-{device}-10-deleted")
    till = Customer.objects.get(pk=till.pk)
    assert till.anonymized_at is not None and till.email == "" and till.user is None
    page.goto(page.base_url + "/me/")
    assert "/accounts/login/" in page.url

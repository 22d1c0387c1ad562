"""Account pages a member manages on a phone: the sessions list and e-mail addresses, at 390 px,
with screenshots under var/screenshots/ for review."""

import re

import pytest
from allauth.account.models import EmailAddress

from tests.browser.conftest import login, screenshot
from tests.conftest import enrolled_member

pytestmark = pytest.mark.django_db(transaction=True)
LAPTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _member(email: str):
    return enrolled_member(email, first_name="Pia", last_name="Phone", full_name="Pia Phone")[0]


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_sessions_page_reads_well_on_a_phone(browser, phone_page):
    user = _member("pia.sessions@example.org")
    # A second client (a laptop) signed in as the same member.
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, user_agent=LAPTOP_UA)
    try:
        _sessions_on_a_phone(laptop, phone_page, user)
    finally:
        laptop.close()


def _sessions_on_a_phone(laptop, phone_page, user):
    laptop_page = laptop.new_page()
    laptop_page.base_url = phone_page.base_url
    login(laptop_page, user.email)
    laptop_page.wait_for_url(re.compile(r"/me/"))

    login(phone_page, user.email)
    phone_page.wait_for_url(re.compile(r"/me/"))
    phone_page.goto(phone_page.base_url + "/accounts/sessions/")
    screenshot(phone_page, "account-phone-01-sessions")

    sessions = phone_page.locator("[data-session]")
    assert sessions.count() == 2
    # The labels stay on one line and the laptop's whole browser string is on screen.
    started = phone_page.locator("[data-session] [data-label=started]").first
    assert started.bounding_box()["height"] < 30
    laptop_row = phone_page.locator("[data-session]", has_text="Windows NT 10.0; Win64; x64")
    assert laptop_row.count() == 1
    assert "Chrome/131.0.0.0 Safari/537.36" in laptop_row.inner_text()
    box = laptop_row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert _no_horizontal_overflow(phone_page)
    assert phone_page.locator("[data-session]", has_text="Current").count() == 1
    laptop_page.goto(laptop_page.base_url + "/accounts/sessions/")
    screenshot(laptop_page, "account-desktop-01-sessions")

    phone_page.click("main form button[type=submit]")  # "Sign Out Other Sessions"
    phone_page.wait_for_load_state()
    assert phone_page.locator("[data-session]").count() == 1
    screenshot(phone_page, "account-phone-02-sessions-ended")
    laptop_page.goto(laptop_page.base_url + "/me/")
    assert "/accounts/login/" in laptop_page.url


def test_email_page_on_a_phone(phone_page):
    user = _member("pia.email@example.org")
    EmailAddress.objects.create(user=user, email="pia.work@example.org", verified=False)
    login(phone_page, user.email)
    phone_page.wait_for_url(re.compile(r"/me/"))
    phone_page.goto(phone_page.base_url + "/accounts/email/")
    screenshot(phone_page, "account-phone-03-email")
    body = phone_page.locator("main").inner_text()
    assert "pia.email@example.org" in body and "pia.work@example.org" in body
    assert _no_horizontal_overflow(phone_page)

"""A manager's evidence pages in a real browser: the audit trail (filter by action, open one
change and read its before/after) and the ledger's verification page after the nightly run."""

import re

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from apps.accounts import roles
from apps.customers.services import customer_update
from apps.loyalty.services import points_adjust
from apps.loyalty.services.ledger_checks import ledger_verification_run
from tests.accounts.factories import UserFactory
from tests.browser.conftest import login, screenshot
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgrammeFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def evidence_world():
    ProgrammeFactory()
    root = UserFactory(email="root@test.local", is_staff=True, is_superuser=True)
    customer = CustomerFactory(first_name="Wei", last_name="Lin", city="Beijing")
    points_adjust(customer=customer, points=300, reason="Welcome gift", actor=root)
    manager = make_staff(roles.MANAGER, email="manager@test.local", full_name="Mona Manager")
    EmailAddress.objects.create(user=manager, email=manager.email, verified=True, primary=True)
    customer_update(customer=customer, actor=manager, city="Hangzhou")
    ledger_verification_run()
    return {"customer": customer, "manager": manager}


def test_a_manager_reads_the_audit_trail_and_the_ledger_check(evidence_world, page):
    login(page, "manager@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.get_by_role("link", name="Audit trail").first.click()
    page.wait_for_url(re.compile(r"/staff/audit/"))
    expect(page.locator("table.audit-table")).to_contain_text("Mona Manager")
    screenshot(page, "evidence-01-audit-trail")

    page.select_option("select[name=action]", "customer.update")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"action=customer.update"))
    rows = page.locator("table.audit-table > tbody > tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Beijing")
    expect(rows.first).to_contain_text("Hangzhou")
    screenshot(page, "evidence-02-audit-filtered")

    page.goto(f"{page.base_url}/staff/loyalty/ledger/")
    expect(page.locator("main")).to_contain_text("1")
    screenshot(page, "evidence-03-ledger-check")

"""Staff loyalty journeys in a real browser: an agent's adjustment above the limit waits, a
manager approves it and the balance changes; a manager reads the liability report."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from apps.loyalty.models import LoyaltyAccount, PointsAdjustment
from apps.loyalty.services import points_adjust
from apps.loyalty.verification import ledger_faults
from tests.browser.conftest import login, screenshot
from tests.conftest import with_verified_email
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_world(superuser, agent, manager):
    ProgrammeFactory(adjustment_limit=500)
    TierFactory(slug="member", name="Member", rank=0, color="#6c757d")
    TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(1000), color="#8d99ae")
    customer = CustomerFactory(first_name="Wei", last_name="Lin", member_number="88001234")
    points_adjust(customer=customer, points=1000, reason="Welcome gift", actor=superuser)
    RewardFactory(name="Tea mug", kind="physical", cost_points=300)
    for user in (agent, manager):  # allauth requires a verified address to log in
        with_verified_email(user)
    return {"customer": customer, "agent": agent, "manager": manager}


def _balance(customer) -> int:
    return LoyaltyAccount.objects.get(customer=customer).balance


def test_agent_adjustment_above_the_limit_is_approved_by_a_manager(staff_world, browser, page):
    customer = staff_world["customer"]

    # The agent asks for 800 points: above the limit of 500, so it waits.
    login(page, "agent@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(f"{page.base_url}/staff/loyalty/members/{customer.member_number}/adjust/")
    page.fill("input[name=points]", "800")
    page.fill("input[name=reason]", "Purchase not recorded at the till")
    screenshot(page, "loyalty-staff-01-agent-adjust-form")
    page.click("button[type=submit]:has-text('Adjust points')")
    expect(page.get_by_text("waits for a manager's approval")).to_be_visible()
    expect(page.get_by_test_id("loyalty-balance")).to_have_text("1,000")
    expect(page.get_by_text("Waiting for approval:")).to_be_visible()
    screenshot(page, "loyalty-staff-02-agent-pending")
    assert _balance(customer) == 1000
    assert PointsAdjustment.objects.get(status="pending").requested_by == staff_world["agent"]

    # The agent has no approvals queue.
    response = page.goto(f"{page.base_url}/staff/loyalty/approvals/")
    assert response.status == 403

    # A manager approves it in another session.
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    manager_page = context.new_page()
    manager_page.set_default_timeout(15_000)
    manager_page.base_url = page.base_url
    login(manager_page, "manager@test.local")
    manager_page.wait_for_url(re.compile(r"/staff/"))
    manager_page.goto(f"{page.base_url}/staff/loyalty/approvals/")
    row = manager_page.locator("tr", has_text="Purchase not recorded at the till")
    expect(row).to_contain_text("+800")
    expect(row).to_contain_text("Ann Agent")
    screenshot(manager_page, "loyalty-staff-03-manager-approvals")
    row.get_by_role("button", name="Approve").click()
    expect(manager_page.get_by_text("points changed")).to_be_visible()
    expect(manager_page.get_by_text("Nothing to approve")).to_be_visible()
    screenshot(manager_page, "loyalty-staff-04-manager-approved")

    manager_page.goto(f"{page.base_url}/staff/loyalty/members/{customer.member_number}/")
    expect(manager_page.get_by_test_id("loyalty-balance")).to_have_text("1,800")
    expect(manager_page.locator("#loyalty")).to_contain_text("Purchase not recorded at the till")
    screenshot(manager_page, "loyalty-staff-05-member-after-approval")
    context.close()

    assert _balance(customer) == 1800
    assert list(ledger_faults()) == []


def test_manager_opens_the_liability_report(staff_world, page):
    login(page, "manager@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(f"{page.base_url}/staff/loyalty/liability/")
    expect(page.get_by_test_id("outstanding")).to_have_text("1,000")
    expect(page.get_by_role("heading", name="Points by tier")).to_be_visible()
    # Chart.js drew on the canvas (it sets a width attribute when it renders).
    page.wait_for_function(
        "() => { const c = document.getElementById('liability-chart');"
        " return c && window.Chart && Chart.getChart(c) !== undefined; }"
    )
    screenshot(page, "loyalty-staff-06-liability")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename.startswith("points-liability-")

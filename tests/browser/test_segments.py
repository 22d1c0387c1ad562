"""Segments and customer value in Chromium: a marketer builds "high value, about to leave" with
the condition editor, watching the live count change, saves it and freezes it; a manager
assigns an at-risk customer to an agent; the 360 page shows the health score and its reasons.
Screenshots under var/screenshots/ (segments-*)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts import roles
from apps.analytics.models import AtRiskEntry, CustomerMetrics, Segment, SegmentSnapshot
from apps.analytics.services.at_risk import at_risk_build
from apps.customers.models import Interaction
from tests.browser.conftest import login, screenshot
from tests.conftest import make_staff, with_verified_email
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _metrics(customer, band: str, clv: str, health: int):
    CustomerMetrics.objects.create(
        customer=customer,
        as_of=timezone.localdate() - dt.timedelta(days=1),
        computed_at=timezone.now(),
        orders=6,
        frequency=5,
        monetary=Decimal("180.00"),
        r_score=2,
        f_score=4,
        m_score=5,
        rfm_segment="cant_lose" if band == "high" else "champions",
        p_alive=0.25 if band == "high" else 0.95,
        expected_purchases=0.3,
        predicted_clv=Decimal(clv),
        churn_risk=0.86 if band == "high" else 0.1,
        churn_band=band,
        band_since=timezone.localdate(),
        health_score=health,
        reasons=[{"code": "overdue", "days": 143, "usual": 30}] if band == "high" else [],
    )


@pytest.fixture
def programme():
    people = []
    for i in range(12):
        person = CustomerFactory(first_name=f"Wei{i}", last_name="Zhang")
        _metrics(person, "high" if i < 4 else "low", str(2000 + i * 100), 20 if i < 4 else 85)
        people.append(person)
    for role, email, name in [
        (roles.MARKETING, "marketer@test.local", "Li Na"),
        (roles.MANAGER, "boss@test.local", "Wang Fang"),
        (roles.SUPPORT_AGENT, "agent@test.local", "Chen Jing"),
    ]:
        with_verified_email(make_staff(role, email=email, full_name=name))
    return people


def test_a_marketer_builds_a_segment_with_a_live_count(programme, page):
    login(page, "marketer@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(page.base_url + "/staff/segments/new/")
    count = page.get_by_test_id("live-count")
    expect(count).to_have_text("12")  # no conditions yet: everyone

    page.fill("#id_name_en", "High value, about to leave")
    page.fill("#id_name_zh_hans", "高价值·即将流失")
    page.get_by_test_id("add-condition").click()
    row = page.get_by_test_id("rule-row").first
    row.locator("select.rules-field").select_option("metrics.churn_band")
    row.locator("select.rules-op").select_option("eq")
    row.locator("select.rules-value").select_option("high")
    expect(count).to_have_text("4")
    page.get_by_test_id("add-condition").click()
    second = page.get_by_test_id("rule-row").nth(1)
    second.locator("select.rules-field").select_option("metrics.clv")
    second.locator("select.rules-op").select_option("gte")
    second.locator("input.rules-value").fill("2200")
    second.locator("input.rules-value").dispatch_event("change")
    expect(count).to_have_text("2")
    screenshot(page, "segments-01-builder")

    page.click("text=Save segment")
    page.wait_for_url(re.compile(r"/staff/segments/\d+/$"))
    segment = Segment.objects.get()
    assert segment.last_count == 2 and len(segment.rules["all"]) == 2
    page.click("text=Freeze now")
    expect(page.locator(".alert-success, .toast, [role=status]").first).to_contain_text("2")
    assert SegmentSnapshot.objects.get().size == 2
    screenshot(page, "segments-02-detail")


def test_a_manager_assigns_an_at_risk_customer(programme, page):
    at_risk_build(week=timezone.localdate())
    assert AtRiskEntry.objects.count() >= 1
    login(page, "boss@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(page.base_url + "/staff/analytics/at-risk/")
    expect(page.get_by_test_id("at-risk")).to_contain_text(
        "no purchase for 143 days, usually every 30"
    )
    screenshot(page, "segments-03-at-risk")
    first = page.get_by_test_id("at-risk").locator("tbody tr").first
    first.locator("select[name=assignee]").select_option(label="Chen Jing")
    first.locator("button[type=submit]").click()
    expect(page.get_by_test_id("at-risk").locator("tbody tr").first).to_contain_text("Chen Jing")
    entry = AtRiskEntry.objects.exclude(assigned_to=None).get()
    assert Interaction.objects.filter(customer=entry.customer, kind="task").count() == 1

    page.goto(page.base_url + f"/staff/customers/{entry.customer.member_number}/")
    panel = page.get_by_test_id("metrics-panel")
    expect(panel.get_by_test_id("health-score")).to_contain_text("20")
    expect(panel.get_by_test_id("health-reasons")).to_contain_text("no purchase for 143 days")
    screenshot(page, "segments-04-360")

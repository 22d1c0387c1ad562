"""The strict Content-Security-Policy in a real browser: the key pages of the staff dashboard,
the member portal, the sign-in pages, Swagger UI and the Django admin, each as a role that may
see it, load with no violation, styled and working (charts drawn, tier colours and progress
bars applied, htmx requests answered). The shared fixtures fail any browser test on a violation;
here every page is checked on its own so a failure names it, and one test proves the watch
catches what the policy refuses."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts import roles
from apps.customers.models import ImportJob
from apps.customers.services import membership_enrol
from apps.loyalty.services import bonus_award, coupon_issue, points_adjust
from tests.accounts.factories import UserFactory
from tests.browser.conftest import CSP_VIOLATIONS, login, screenshot
from tests.conftest import make_staff
from tests.customers.factories import OrderFactory
from tests.loyalty.factories import (
    EarnRuleFactory,
    ProgrammeFactory,
    RewardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

SILVER = "#8d99ae"


@pytest.fixture
def world():
    ProgrammeFactory(adjustment_limit=500, signup_bonus=0)
    TierFactory(slug="member", name="Member", rank=0, color="#6c757d")
    TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(1000), color=SILVER)
    member = UserFactory(email="wei.lin@example.org", full_name="Wei Lin")
    EmailAddress.objects.create(user=member, email=member.email, verified=True, primary=True)
    customer = membership_enrol(user=member, first_name="Wei", last_name="Lin")
    bonus_award(customer=customer, points=400, key="csp:gift", reason="Welcome gift")
    earned = timezone.now() - dt.timedelta(days=40)
    bonus_award(customer=customer, points=150, key="csp:old", reason="Spring promotion", at=earned)
    OrderFactory(customer=customer, total=Decimal("420.00"))
    coupon_issue(owner=customer, kind="percent", value=Decimal(10), valid_days=14)
    RewardFactory(name="Tea mug", slug="mug", kind="physical", cost_points=300, stock=5)
    EarnRuleFactory(name="Tea doubles", category="tea")
    manager = make_staff(roles.MANAGER, email="manager@test.local", full_name="Mona Manager")
    root = UserFactory(email="root@test.local", is_staff=True, is_superuser=True)
    points_adjust(customer=customer, points=900, reason="Lost receipt", actor=manager)  # waits
    for user in (manager, root):
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    job = ImportJob.objects.create(
        kind="customers",
        file_name="april.csv",
        stored_path="",
        status="validating",
        total_rows=200,
        processed_rows=84,
        created_by=manager,
    )
    return {"customer": customer, "job": job}


# A custom property each stylesheet defines: present only when the stylesheet was applied.
BOOTSTRAP = "--bs-body-font-family"
DJANGO_ADMIN = "--body-fg"


def visit(page, path: str, stylesheet_var: str | None = BOOTSTRAP) -> None:
    """Open ``path``, let its scripts and htmx requests finish, and require the policy header,
    the page's stylesheet applied and a clean console."""
    response = page.goto(page.base_url + path, wait_until="networkidle")
    assert response.status == 200, f"{path}: HTTP {response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
    if stylesheet_var:
        styled = "v => getComputedStyle(document.documentElement).getPropertyValue(v) !== ''"
        assert page.evaluate(styled, stylesheet_var), f"{path}: stylesheet not applied"
    page.evaluate("document.fonts.ready.then(() => true)")  # a round trip for late reports
    assert CSP_VIOLATIONS == [], f"{path}: {CSP_VIOLATIONS}"


def test_staff_pages_run_under_the_policy(world, page):
    customer, job = world["customer"], world["job"]
    login(page, "manager@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    mn = customer.member_number
    for path in [
        "/staff/",
        "/staff/customers/",
        f"/staff/customers/{mn}/",
        "/staff/customers/new/",
        f"/staff/customers/{mn}/edit/",
        f"/staff/customers/{mn}/privacy/export/",
        "/staff/orders/",
        "/staff/loyalty/rewards/",
        "/staff/loyalty/rewards/new/",
        "/staff/loyalty/redemptions/",
        "/staff/loyalty/coupons/",
        "/staff/loyalty/coupons/new/",
        "/staff/loyalty/rules/",
        "/staff/loyalty/rules/new/",
        "/staff/loyalty/tiers/",
        "/staff/loyalty/programme/",
        "/staff/loyalty/approvals/",
        f"/staff/loyalty/members/{mn}/",
        f"/staff/loyalty/members/{mn}/adjust/",
        "/staff/data/import/",
    ]:
        visit(page, path)

    # htmx: typing in the customer search swaps the results in (with the CSRF header set on
    # <body>), and the rule form's preview posts on load.
    visit(page, "/staff/customers/")
    page.fill("[data-primary-search]", "Wei")
    expect(page.locator("table[data-row-nav] tbody tr")).to_have_count(1)
    visit(page, "/staff/loyalty/rules/new/")
    expect(page.locator("#rule-preview")).not_to_be_empty()
    screenshot(page, "csp-06-rule-form")

    # A tier's colour from the database, through data-color.
    visit(page, "/staff/loyalty/tiers/")
    dot = page.locator("tr", has_text="Silver").locator(".tier-dot")
    assert dot.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(141, 153, 174)"
    screenshot(page, "csp-07-tiers")

    # The progress bar of a running import: a class, not a style attribute; htmx polls it.
    visit(page, f"/staff/data/import/{job.pk}/")
    bar = page.locator("#import-progress .progress-bar")
    expect(bar).to_have_text("42%")
    ratio = bar.evaluate("el => el.offsetWidth / el.parentElement.offsetWidth")
    assert ratio == pytest.approx(0.42, abs=0.01)
    screenshot(page, "csp-08-import-progress")

    # The liability report draws its chart from json_script data with a static script; the
    # period select submits its form through data-autosubmit.
    visit(page, "/staff/loyalty/liability/")
    assert page.evaluate("!!Chart.getChart(document.getElementById('liability-chart'))")
    screenshot(page, "csp-01-liability-chart")
    page.select_option("select[name=months]", "6")
    page.wait_for_url(re.compile(r"months=6"))
    expect(page.locator("select[name=months]")).to_have_value("6")
    assert CSP_VIOLATIONS == []
    visit(page, f"/staff/customers/{mn}/")
    screenshot(page, "csp-02-customer-360")


def test_portal_and_account_pages_run_under_the_policy(world, page):
    for path in ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]:
        visit(page, path)
    login(page, "wei.lin@example.org")
    page.wait_for_url(re.compile(r"/me/$"))
    for path in [
        "/me/",
        "/me/points/",
        "/me/rewards/",
        "/me/coupons/",
        "/me/card/",
        "/me/referrals/",
        "/me/profile/",
        "/me/messages/",
        "/me/privacy/",
        "/me/privacy/delete/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/accounts/2fa/totp/activate/",
        "/accounts/sessions/",
    ]:
        visit(page, path)

    # The tier card takes the tier's colour and the bar to the next tier its width from a class.
    visit(page, "/me/points/")
    bar = page.locator(".tier-progress .progress-bar")
    assert bar.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(141, 153, 174)"
    percent = int(page.locator(".tier-progress").get_attribute("aria-valuenow"))
    assert percent > 0
    ratio = bar.evaluate("el => el.offsetWidth / el.parentElement.offsetWidth")
    assert ratio == pytest.approx(percent / 100, abs=0.01)
    screenshot(page, "csp-03-portal-points")

    # The language switch submits itself (data-autosubmit) and the page comes back in Chinese.
    page.select_option("#portal-lang", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    assert CSP_VIOLATIONS == []


def test_swagger_ui_and_admin_run_under_the_policy(world, page):
    visit(page, "/api/docs/", stylesheet_var=None)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Clientele API")
    # Swagger UI's own stylesheet and the page styles moved out of its inline <style>.
    expect(page.locator("body")).to_have_css("background-color", "rgb(250, 250, 250)")
    expect(page.locator(".swagger-ui .info .title")).to_have_css("font-size", "36px")
    # An operation opens with its parameters and example responses (highlighted code).
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    expect(page.locator(".opblock-body .microlight, .opblock-body pre").first).to_be_visible()
    screenshot(page, "csp-04-api-docs")
    assert CSP_VIOLATIONS == []

    login(page, "root@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    customer = world["customer"]
    for path in [
        "/admin/",
        "/admin/customers/customer/",
        f"/admin/customers/customer/{customer.pk}/change/",
        "/admin/customers/customer/add/",
        "/admin/customers/customer/import/",
        "/admin/customers/customer/export/",
        "/admin/loyalty/reward/",
        "/admin/loyalty/reward/add/",
    ]:
        visit(page, path, stylesheet_var=DJANGO_ADMIN)

    # The export page's "select all" box, wired up by a static script instead of onchange=.
    visit(page, "/admin/customers/customer/export/", stylesheet_var=DJANGO_ADMIN)
    fields = page.locator(".selectable-field-export-row input[type=checkbox]:visible")
    assert fields.count() > 1
    page.uncheck("#select-all-toggle")
    assert fields.evaluate_all("boxes => boxes.every(box => !box.checked)")
    page.check("#select-all-toggle")
    assert fields.evaluate_all("boxes => boxes.every(box => box.checked)")
    screenshot(page, "csp-05-admin-export")


def test_the_watch_reports_what_the_policy_refuses(world, page, csp_violations):
    """A test that can fail: script and style injected into a page are refused by the browser
    and reported, so a template that brings them back fails the browser tests."""
    visit(page, "/accounts/login/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
          const box = document.createElement("div");
          box.setAttribute("style", "color: red");
          document.body.append(box);
        }"""
    )
    page.evaluate("new Promise(resolve => setTimeout(resolve, 100))")
    assert page.evaluate("window.injected === undefined")  # refused, not only reported
    found = " ".join(csp_violations)
    assert "script-src" in found and "style-src" in found
    csp_violations.clear()

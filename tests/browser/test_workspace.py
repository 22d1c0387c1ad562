"""The manager's workspace in Chromium (issue 14): each role lands on its own home page; a manager
subscribes the managers to the weekly KPI summary and sends it to themselves; a customer list
larger than the background threshold is exported by a worker, the page shows the file ready and
the download works. Screenshots under var/screenshots/ (workspace-*)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts import roles
from apps.analytics.models import ReportSubscription
from apps.analytics.services.kpi import kpi_snapshot_range
from apps.complaints.enums import TicketChannel
from apps.complaints.services.tickets import ticket_assign, ticket_open
from apps.core.models import ExportJob
from tests.browser.conftest import login, screenshot
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.conftest import make_staff, roles_restore, with_verified_email
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MANAGER, AGENT, MARKETER = "manager@test.local", "agent@test.local", "marketer@test.local"
_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def shop():
    """Twelve members with orders over the last month, yesterday's snapshots, one staff member
    per role, and two complaints assigned to the agent."""
    roles_restore()  # an earlier transactional test's flush emptied the role groups
    today = timezone.localdate()
    store = StoreFactory(code="sh-01", name="Shanghai Jing'an")
    people = []
    for i in range(12):
        person = CustomerFactory(first_name=f"Lin{i}", last_name="Wang", store=store)
        people.append(person)
        for days_ago in range(1 + i % 4, 35, 9):
            OrderFactory(
                customer=person,
                store=store,
                placed_at=timezone.make_aware(
                    dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12))
                ),
                total=Decimal(80 + 10 * (i % 5)),
            )
    yesterday = today - dt.timedelta(days=1)
    kpi_snapshot_range(first=yesterday - dt.timedelta(days=31), last=yesterday)
    manager = with_verified_email(make_staff(roles.MANAGER, email=MANAGER, full_name="Mona Li"))
    agent = with_verified_email(make_staff(roles.SUPPORT_AGENT, email=AGENT, full_name="Ann Wu"))
    with_verified_email(make_staff(roles.MARKETING, email=MARKETER, full_name="Mark Xu"))
    SLAPolicyFactory(position=1)
    category = CategoryFactory(code="delivery", name_en="Delivery", name_zh_hans="配送")
    for person in people[:2]:
        ticket = ticket_open(
            customer=person,
            category=category,
            subject="Parcel late",
            description="Still waiting.",
            channel=TicketChannel.PHONE,
        )
        ticket_assign(ticket=ticket, assignee=agent, actor=manager)
    return {"people": people}


def _home(page, email: str):
    login(page, email)
    page.wait_for_url(re.compile(r"/staff/$"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate(_OVERFLOW) <= 0


def test_each_role_lands_on_its_own_home(shop, page, browser, live_server):
    _home(page, MANAGER)
    expect(page.get_by_role("heading", name="Programme KPIs")).to_be_visible()
    expect(page.get_by_role("heading", name="Waiting for your approval")).to_be_visible()
    screenshot(page, "workspace-01-home-manager")

    for email, heading, name in (
        (AGENT, "My queue", "workspace-02-home-agent"),
        (MARKETER, "Live campaigns", "workspace-03-home-marketing"),
    ):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        other = context.new_page()
        other.base_url = live_server.url
        _home(other, email)
        expect(other.get_by_role("heading", name=heading)).to_be_visible()
        expect(other.get_by_role("heading", name="Programme KPIs")).to_have_count(0)
        screenshot(other, name)
        context.close()
    # The agent's home lists their two tickets.
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.base_url = live_server.url
    _home(phone, AGENT)
    expect(phone.get_by_text("Parcel late")).to_have_count(2)
    screenshot(phone, "workspace-04-home-agent-phone")
    context.close()


def test_a_manager_subscribes_the_managers_to_the_weekly_kpis(shop, page):
    login(page, MANAGER)
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(page.base_url + "/staff/kpi/")
    page.get_by_test_id("kpi-reports").click()
    page.wait_for_url(re.compile(r"/staff/kpi/reports/$"))
    page.get_by_test_id("report-new").click()
    page.select_option("select[name=report]", "kpi")
    page.select_option("select[name=frequency]", "weekly")
    page.select_option("select[name=hour]", "9")
    page.select_option("select[name=role]", label="Manager")
    page.fill("textarea[name=addresses]", "not-an-address")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".invalid-feedback, .alert-danger").first).to_be_visible()
    screenshot(page, "workspace-05-report-form-error")

    page.fill("textarea[name=addresses]", "owner@shop.example")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/staff/kpi/reports/$"))
    subscription = ReportSubscription.objects.get(report="kpi")
    assert subscription.addresses == ["owner@shop.example"]
    table = page.get_by_test_id("report-subscriptions")
    expect(table).to_contain_text("KPI summary")
    expect(table).to_contain_text("owner@shop.example")

    mail.outbox.clear()
    table.locator("tr", has_text="KPI summary").get_by_test_id("report-send-test").click()
    expect(page.locator(".alert-success, .toast").first).to_contain_text(MANAGER)
    assert [m.to for m in mail.outbox] == [[MANAGER]]
    assert mail.outbox[0].attachments[0][0].endswith(".xlsx")
    screenshot(page, "workspace-06-reports")


def test_a_large_export_is_written_in_the_background(shop, page, settings, tmp_path):
    settings.EXPORT_BACKGROUND_ROWS = 5
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    login(page, MANAGER)
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(page.base_url + "/staff/customers/")
    page.locator("#customer-results").get_by_role("link", name="Excel").click()
    page.wait_for_url(re.compile(r"/staff/data/exports/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", name="Export of Customers")).to_be_visible()
    # The worker ran on commit (eager in tests): the page shows the link that expires.
    expect(page.locator("#export-progress")).to_contain_text("Ready: 12 rows")
    screenshot(page, "workspace-07-export-ready")
    with page.expect_download() as info:
        page.locator("#export-progress").get_by_role("link", name="Download").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE and job.total_rows == 12

    page.goto(page.base_url + "/staff/data/exports/")
    expect(page.get_by_role("heading", name="Large exports")).to_be_visible()
    screenshot(page, "workspace-08-my-exports")

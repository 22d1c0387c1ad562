"""Complaints end to end in Chromium: a member files one from a phone with a photo; an agent
takes it, replies and waits on the customer; the member answers; the agent resolves; the member
rates it. A manager reads the reports. Screenshots under var/screenshots/ (complaints-*)."""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from apps.accounts import roles
from apps.complaints.enums import TicketStatus
from apps.complaints.models import Attachment, Ticket
from tests.browser.conftest import login, screenshot
from tests.browser.test_survey_answer import assert_fits
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.conftest import enrolled_member, make_staff, with_verified_email
from tests.customers.factories import OrderFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(tmp_path):
    SLAPolicyFactory(position=1, name_en="Standard", name_zh_hans="标准")
    root = CategoryFactory(code="product", name_en="Product quality", name_zh_hans="产品质量")
    CategoryFactory(
        code="product-damaged", parent=root, name_en="Damaged on arrival", name_zh_hans="到货破损"
    )
    _user, customer = enrolled_member("lin@test.local", first_name="Lin", last_name="Wang")
    OrderFactory(customer=customer, store=StoreFactory(code="sh-02", name="Shanghai Xuhui"))
    for role, email, name in [
        (roles.SUPPORT_AGENT, "agent@test.local", "Chen Jing"),
        (roles.MANAGER, "boss@test.local", "Wang Fang"),
    ]:
        with_verified_email(make_staff(role, email=email, full_name=name))
    photo = tmp_path / "cup.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, format="JPEG")
    photo.write_bytes(buffer.getvalue())
    return customer, photo


def test_a_complaint_from_phone_to_resolution(setup, phone_page, browser, live_server):
    _customer, photo = setup
    page = phone_page
    login(page, "lin@test.local")
    page.wait_for_url(re.compile(r"/me/"))
    page.goto(page.base_url + "/me/complaints/")
    screenshot(page, "complaints-phone-01-empty")
    page.click("text=File a complaint")
    page.select_option("#id_category", label="Product quality › Damaged on arrival")
    page.select_option("#id_order", index=1)
    page.fill("#id_subject", "The cup arrived cracked")
    page.fill("#id_description", "Opened the box and the handle was off.")
    page.set_input_files("#id_attachments", str(photo))
    assert_fits(page)
    screenshot(page, "complaints-phone-02-form")
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url(re.compile(r"/me/complaints/C-\d{4}-\d{6}/"))
    expect(page.get_by_test_id("ticket-status")).to_have_text("New")
    assert_fits(page)
    screenshot(page, "complaints-phone-03-filed")
    ticket = Ticket.objects.get()
    assert Attachment.objects.filter(ticket=ticket).count() == 1

    # The agent works it on a desktop.
    staff = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    desk = staff.new_page()
    desk.set_default_timeout(15_000)
    desk.base_url = live_server.url
    login(desk, "agent@test.local")
    desk.wait_for_url(re.compile(r"/staff/"))
    desk.goto(desk.base_url + "/staff/tickets/?view=unassigned")
    expect(desk.locator("table")).to_contain_text(ticket.reference)
    screenshot(desk, "complaints-desk-01-queue")
    desk.click(f"text={ticket.reference}")
    desk.click("text=Take it")
    desk.fill("#id_body", "Sorry about that. Could you tell us which store you collected it from?")
    desk.select_option("#id_then", "waiting_on_customer")
    desk.click("form[action$='/reply/'] button[type=submit]")
    expect(desk.get_by_test_id("clock-resolution")).to_contain_text("Paused")
    desk.fill("#id_body", "Customer sounds upset; offer a voucher.")
    desk.check("#id_internal")
    desk.click("form[action$='/reply/'] button[type=submit]")
    expect(desk.get_by_test_id("message-internal")).to_be_visible()
    screenshot(desk, "complaints-desk-02-ticket")

    # The member answers from the phone; the clock runs again.
    page.reload()
    expect(page.locator(".ticket-msg.is-staff")).to_contain_text("which store")
    expect(page.locator("body")).not_to_contain_text("offer a voucher")
    page.fill("#id_body", "Xuhui store, last Saturday.")
    page.click("form:has(input[value=reply]) button[type=submit]")
    expect(page.get_by_test_id("ticket-status")).to_have_text("Open")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN and ticket.resolution_due is not None

    desk.reload()
    desk.fill("#id_reason", "Cracked on arrival")
    desk.select_option("#id_kind", "points")
    desk.fill("#id_points", "500")
    desk.click("form[action$='/compensate/'] button[type=submit]")
    expect(desk.locator("#comp-title").locator("xpath=../..")).to_contain_text("Issued")
    desk.click("form[action$='/status/']:has(input[value=resolved]) button")
    expect(desk.locator(".page-title").locator("xpath=..")).to_contain_text("Resolved")
    screenshot(desk, "complaints-desk-03-resolved")

    page.reload()
    page.check("input[name=score][value='5']")
    page.click("form:has(input[value=rate]) button[type=submit]")
    ticket.refresh_from_db()
    assert ticket.satisfaction == 5
    screenshot(page, "complaints-phone-04-rated")

    # The manager reads the reports.
    desk.context.clear_cookies()
    login(desk, "boss@test.local")
    desk.wait_for_url(re.compile(r"/staff/"))
    desk.goto(desk.base_url + "/staff/tickets/reports/")
    expect(desk.locator("#t-sla-team")).to_be_visible()
    screenshot(desk, "complaints-desk-04-reports")
    staff.close()

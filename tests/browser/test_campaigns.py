"""Campaigns in Chromium: a marketer writes a broadcast with two variants and a 20% holdout to a
segment, previews it with a real member's data (the e-mail in its sandboxed frame), sends
themselves a test, starts it, watches the progress poll and then reads the results; the same
pages in Chinese. Screenshots under var/screenshots/ (campaigns-*)."""

import datetime as dt
import importlib
import re

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts import roles
from apps.campaigns.models import Campaign, CampaignSettings, Message
from apps.campaigns.tasks import campaign_send_task
from apps.dashboard.views import campaigns as campaign_views
from tests.browser.conftest import login, screenshot
from tests.campaigns.factories import grant, segment_everyone
from tests.conftest import make_staff, with_verified_email
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = [("Wei", "Zhang"), ("Mia", "Wong"), ("伟", "王"), ("Lina", "Chen"), ("芳", "李")]


def _builtin_journey_restore() -> None:
    """The built-in points-expiring journey comes from a data migration; an earlier
    transactional test's flush removed it."""
    migration = importlib.import_module("apps.campaigns.migrations.0004_points_expiring_journey")
    migration.create(django_apps, None)


@pytest.fixture
def shop(monkeypatch):
    _builtin_journey_restore()
    settings_ = CampaignSettings.get()
    settings_.quiet_start = settings_.quiet_end = dt.time(9, 0)  # no quiet hours in the test
    settings_.save()
    people = []
    for i in range(40):
        first, last = NAMES[i % len(NAMES)]
        person = CustomerFactory(
            first_name=first,
            last_name=last,
            preferred_channel="email",
            preferred_language="zh-hans" if i % 3 == 0 else "en",
        )
        grant(person, "email", "portal")
        people.append(person)
    marketer = with_verified_email(
        make_staff(roles.MARKETING, email="marketer@test.local", full_name="Li Na")
    )
    segment_everyone(marketer)
    # The send waits for the test to run it, so that the page shows a send in progress.
    monkeypatch.setattr(campaign_views, "send_soon", lambda campaign_id: None)
    return people


def _variant(page, index: int, subject: tuple[str, str], body: tuple[str, str]) -> None:
    page.fill(f"#id_variants-{index}-subject_en", subject[0])
    page.fill(f"#id_variants-{index}-subject_zh_hans", subject[1])
    page.fill(f"#id_variants-{index}-body_en", body[0])
    page.fill(f"#id_variants-{index}-body_zh_hans", body[1])


def test_a_marketer_writes_previews_starts_and_reads_a_broadcast(shop, page, browser, live_server):
    login(page, "marketer@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(page.base_url + "/staff/campaigns/")
    expect(page.get_by_test_id("builtin")).to_be_visible()  # the points-expiring journey
    page.click("text=New broadcast")
    page.wait_for_url(re.compile(r"/staff/campaigns/new/"))

    page.fill("#id_name_en", "Spring tea week")
    page.fill("#id_name_zh_hans", "春茶周")
    page.select_option("#id_segment", label="Everyone")
    page.check("input[name=channels][value=email]")
    page.check("input[name=channels][value=portal]")
    page.fill("#id_holdout_percent", "20")
    page.fill("#id_cost_per_message", "0.05")
    _variant(
        page,
        0,
        ("{{ first_name }}, new spring teas", "{{ first_name }}，春茶上新"),
        (
            "Hello {{ first_name }},\n\nYou have {{ points }} points. {{ links.rewards }}",
            "{{ first_name }}您好，\n\n您有 {{ points }} 积分。{{ links.rewards }}",
        ),
    )
    page.get_by_test_id("add-variant").click()
    expect(page.locator("#id_variants-1-label")).to_have_value("B")
    _variant(
        page,
        1,
        ("A cup on us, {{ first_name }}", "{{ first_name }}，请您喝茶"),
        ("Come by this week: the first cup is ours.", "本周到店，第一杯我们请。"),
    )
    page.locator("#id_variants-1-body_en").focus()
    page.get_by_test_id("template-help").locator("[data-insert='links.portal']").click()
    expect(page.locator("#id_variants-1-body_en")).to_have_value(
        re.compile(r"\{\{ links\.portal \}\}")
    )
    screenshot(page, "campaigns-01-editor")
    page.click("text=Save campaign")
    page.wait_for_url(re.compile(r"/staff/campaigns/\d+/$"))
    campaign = Campaign.objects.get(builtin="")
    assert sorted(campaign.variants.values_list("label", flat=True)) == ["A", "B"]
    assert campaign.holdout_percent == 20

    member = shop[1]
    page.get_by_test_id("preview-member").fill(member.member_number)
    page.get_by_test_id("preview-button").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text(
        f"{member.first_name}, new spring teas"
    )
    frame = page.frame_locator("[data-testid=preview-frame]")
    expect(frame.locator("body")).to_contain_text(f"Hello {member.first_name}")
    page.get_by_test_id("test-send").click()
    expect(page.get_by_test_id("test-send-done")).to_contain_text("marketer@test.local")
    assert [m.subject for m in mail.outbox] == [f"[Test] {member.first_name}, new spring teas"]
    screenshot(page, "campaigns-02-preview")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("progress")).to_contain_text("0 / 40")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Running")
    screenshot(page, "campaigns-03-progress")

    campaign_send_task(campaign.pk)  # the worker's part; the page polls and then reloads
    expect(page.get_by_test_id("results")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed")
    sent = Message.objects.filter(campaign=campaign, variant__isnull=False)
    held = Message.objects.filter(campaign=campaign, status="holdout")
    assert held.count() > 0 and sent.count() + held.count() == 40
    for message in [*sent[: sent.count() // 3], *held[:1]]:
        OrderFactory(customer=message.customer, placed_at=timezone.now() + dt.timedelta(hours=2))
    page.reload()
    expect(page.get_by_test_id("conversion")).to_contain_text("%")
    expect(page.get_by_test_id("variant-results")).to_contain_text("A")
    screenshot(page, "campaigns-04-results")

    page.click("text=Messages")
    expect(page.get_by_test_id("messages")).to_contain_text(member.member_number)
    screenshot(page, "campaigns-05-messages")
    page.goto(page.base_url + "/staff/campaigns/")
    expect(page.get_by_test_id("campaigns")).to_contain_text("Spring tea week")
    screenshot(page, "campaigns-00-list")

    chinese = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    chinese.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    zh = chinese.new_page()
    zh.base_url = live_server.url
    login(zh, "marketer@test.local")
    zh.wait_for_url(re.compile(r"/staff/"))
    zh.goto(f"{live_server.url}/staff/campaigns/")
    expect(zh.get_by_test_id("campaigns")).to_contain_text("春茶周")
    screenshot(zh, "campaigns-06-list-zh")
    zh.goto(f"{live_server.url}/staff/campaigns/{campaign.pk}/")
    expect(zh.get_by_test_id("results")).to_be_visible()
    screenshot(zh, "campaigns-07-results-zh")
    zh.goto(f"{live_server.url}/staff/campaigns/new/?kind=triggered")
    screenshot(zh, "campaigns-08-journey-editor-zh")
    chinese.close()

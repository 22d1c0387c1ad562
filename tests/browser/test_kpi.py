"""The KPI dashboard in Chromium: a manager opens /staff/kpi/ over a small shop whose last forty
days were snapshotted, sees the cards and their sparklines, narrows the page to a store, follows
a number to the customers behind it; the page at desktop and phone width, in English and in
Chinese. Screenshots under var/screenshots/ (kpi-*)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts import roles
from apps.analytics.models import KPISnapshot
from apps.analytics.services.kpi import kpi_snapshot_range
from tests.browser.conftest import login, screenshot
from tests.conftest import make_staff, roles_restore, with_verified_email
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MANAGER = "manager@test.local"
NAMES = [("Wei", "Zhang"), ("Mia", "Wong"), ("伟", "王"), ("Lina", "Chen"), ("芳", "李")]

# Whether a canvas has anything drawn on it (a sparkline Chart.js painted).
_DRAWN = """
(canvas) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return canvas.width > 0;
  return false;
}
"""
# How far the page overflows the viewport sideways.
_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _local(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def shop():
    """Two stores; twelve members (four of them joined in the last month), each with an order
    every few days over the last sixty days; snapshots of the last forty days."""
    roles_restore()  # an earlier transactional test's flush emptied the role groups
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    stores = [
        StoreFactory(code="sh-01", name="Shanghai Jing'an"),
        StoreFactory(code="bj-01", name="Beijing Sanlitun"),
    ]
    people = []
    for i in range(12):
        first, last = NAMES[i % len(NAMES)]
        joined = today - dt.timedelta(days=20 + i * 2 if i < 4 else 300)
        person = CustomerFactory(
            first_name=first, last_name=last, store=stores[i % 2], joined_at=_local(joined, 9)
        )
        people.append(person)
        for k, days_ago in enumerate(range(1 + i % 5, 60, 7 + i % 4)):
            if today - dt.timedelta(days=days_ago) < joined:
                break
            OrderFactory(
                customer=person,
                store=stores[(i + k) % 2],
                placed_at=_local(today - dt.timedelta(days=days_ago)),
                total=Decimal(60 + 15 * ((i * 7 + k * 3) % 11)),
            )
    kpi_snapshot_range(first=yesterday - dt.timedelta(days=40), last=yesterday)
    with_verified_email(make_staff(roles.MANAGER, email=MANAGER, full_name="Mona Manager"))
    return {"stores": stores, "people": people, "yesterday": yesterday}


def _zh(browser, live_server, *, width: int):
    options = {"viewport": {"width": width, "height": 900 if width > 500 else 844}}
    if width < 500:
        options.update(device_scale_factor=2, is_mobile=True, has_touch=True)
    context = browser.new_context(**options)
    context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    return context, page


def _open(page) -> None:
    login(page, MANAGER)
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(page.base_url + "/staff/kpi/")
    expect(page.get_by_test_id("kpi-members")).to_be_visible()
    page.wait_for_load_state("networkidle")


def test_a_manager_reads_the_kpis(shop, page):
    snapshot = KPISnapshot.objects.get(day=shop["yesterday"], scope="all").values
    store = shop["stores"][1]
    by_store = KPISnapshot.objects.get(day=shop["yesterday"], scope=f"store:{store.pk}").values
    assert snapshot["orders"] != by_store["orders"]  # else the scope change shows nothing

    _open(page)
    expect(page.locator(".page-subtitle")).to_contain_text("From the daily snapshots.")
    expect(page.get_by_test_id("kpi-members")).to_contain_text(str(snapshot["members"]))
    expect(page.get_by_test_id("kpi-orders").locator(".stat-value")).to_have_text(
        str(snapshot["orders"])
    )
    spark = page.locator("canvas[data-kpi-spark='orders']")
    expect(spark).to_be_visible()
    assert spark.evaluate(_DRAWN), "the orders sparkline is blank"
    assert page.evaluate(_OVERFLOW) <= 0
    screenshot(page, "kpi-01-desktop-en")

    page.get_by_test_id("kpi-scope").select_option(f"store:{store.pk}")
    page.wait_for_url(re.compile(rf"scope=store%3A{store.pk}"))
    expect(page.get_by_test_id("kpi-orders").locator(".stat-value")).to_have_text(
        str(by_store["orders"])
    )
    expect(page.get_by_test_id("kpi-scope")).to_have_value(f"store:{store.pk}")
    expect(page.get_by_test_id("kpi-campaign_uplift")).to_have_count(0)
    screenshot(page, "kpi-02-store-en")

    new_members = by_store["new_members"]
    assert new_members > 0
    page.get_by_test_id("kpi-new_members-people").click()
    page.wait_for_url(re.compile(r"/staff/kpi/new_members/customers/\?"))
    expect(page.get_by_test_id("kpi-people-count")).to_have_text(
        f"{new_members} customer" + ("s" if new_members != 1 else "")
    )
    expect(page.locator("tbody tr")).to_have_count(new_members)
    expect(page.locator("tbody")).to_contain_text(store.name)
    screenshot(page, "kpi-03-customers-en")


def test_the_page_on_a_phone_and_in_chinese(shop, phone_page, browser, live_server):
    _open(phone_page)
    assert phone_page.evaluate(_OVERFLOW) <= 0
    assert phone_page.locator("canvas[data-kpi-spark='revenue']").evaluate(_DRAWN)
    screenshot(phone_page, "kpi-04-phone-en")

    for width, name in ((1440, "kpi-05-desktop-zh"), (390, "kpi-06-phone-zh")):
        context, page = _zh(browser, live_server, width=width)
        _open(page)
        expect(page.locator(".page-subtitle")).to_contain_text("来自每日快照。")
        expect(page.get_by_test_id("kpi-new_members")).to_contain_text("新会员")
        expect(page.get_by_test_id("kpi-orders")).to_contain_text("环比")
        assert page.evaluate(_OVERFLOW) <= 0
        screenshot(page, name)
        context.close()

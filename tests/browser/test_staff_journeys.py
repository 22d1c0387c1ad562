"""Staff journeys in a real browser: an agent finds a customer by typing part of a name, opens
the 360° page and logs a call; a manager downloads the customer list as Excel. Screenshots of
the list, the 360° page (English, Simplified Chinese, phone) go to var/screenshots/."""

import datetime as dt
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.customers.models import ConsentRecord, Interaction, Order, OrderLine
from tests.browser.conftest import login, screenshot
from tests.conftest import with_verified_email
from tests.customers.factories import CustomerFactory, StoreFactory, TagFactory

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = [
    ("Wei", "Zhang", "Shanghai"),
    ("Na", "Li", "Beijing"),
    ("芳", "王", "杭州"),
    ("Jun", "Liu", "Shenzhen"),
    ("Anna", "Berg", "Shanghai"),
    ("Min", "Chen", "Suzhou"),
    ("Lei", "Yang", "Nanjing"),
    ("静", "赵", "上海"),
    ("Hao", "Huang", "Chengdu"),
    ("Yan", "Zhou", "Wuhan"),
    ("Tom", "Fischer", "Shanghai"),
    ("Xia", "Wu", "Xiamen"),
]


@pytest.fixture
def shop(agent, manager):
    now = timezone.now()
    stores = [
        StoreFactory(code="sh-jingan", name="Shanghai Jing'an", city="Shanghai"),
        StoreFactory(code="bj-sanlitun", name="Beijing Sanlitun", city="Beijing"),
        StoreFactory(code="web", name="Web shop", city="", kind="online"),
    ]
    vip, new, wholesale = (
        TagFactory(name="VIP", color="warning"),
        TagFactory(name="newsletter", color="info"),
        TagFactory(name="wholesale", color="success"),
    )
    customers = []
    for i, (first, last, city) in enumerate(PEOPLE):
        c = CustomerFactory(
            first_name=first,
            last_name=last,
            city=city,
            store=stores[i % 3],
            source=["store", "portal", "api"][i % 3],
            joined_at=now - dt.timedelta(days=3 + i * 17),
        )
        if i % 3 == 0:
            c.tags.add(vip)
        if i % 4 == 1:
            c.tags.add(new)
        if i == 5:
            c.tags.add(wholesale)
        customers.append(c)
    star = customers[0]
    for n in range(8):
        order = Order.objects.create(
            store=stores[n % 2],
            customer=star,
            external_id=f"SH-{20240 + n}",
            placed_at=now - dt.timedelta(days=4 + n * 23),
            total=Decimal("368.00") + n * 41,
            refunded_amount=Decimal("58.00") if n == 2 else Decimal(0),
            status="partially_refunded" if n == 2 else "paid",
        )
        OrderLine.objects.create(
            order=order,
            sku="TEA-OOL-250",
            name="Tieguanyin oolong 250 g",
            category="tea",
            quantity=Decimal(2),
            unit_price=Decimal("128.00"),
        )
        OrderLine.objects.create(
            order=order,
            sku="CUP-CLAY",
            name="Yixing clay cup",
            category="teaware",
            quantity=Decimal(1),
            unit_price=order.total - Decimal("256.00"),
        )
    ConsentRecord.objects.create(
        customer=star,
        channel="email",
        purpose="marketing",
        granted=True,
        source="portal",
        at=now - dt.timedelta(days=200),
    )
    ConsentRecord.objects.create(
        customer=star,
        channel="sms",
        purpose="marketing",
        granted=False,
        source="staff",
        at=now - dt.timedelta(days=30),
        evidence="Phone call: asked to stop SMS offers",
    )
    ConsentRecord.objects.create(
        customer=star,
        channel="email",
        purpose="service",
        granted=True,
        source="portal",
        at=now - dt.timedelta(days=200),
    )
    for user in (agent, manager):  # allauth requires a verified address to log in
        with_verified_email(user)
    Interaction.objects.create(
        customer=star,
        kind="email",
        author=agent,
        summary="Asked when the spring tea arrives",
        at=now - dt.timedelta(days=12),
    )
    return {"star": star, "customers": customers, "agent": agent, "manager": manager}


def test_agent_finds_a_customer_opens_360_and_logs_a_call(page, shop):
    star = shop["star"]
    login(page, "agent@test.local")
    page.wait_for_url(re.compile(r"/staff/$"))
    expect(page.locator("h1")).to_contain_text("Hello, Ann")
    screenshot(page, "staff-01-home")

    page.get_by_role("link", name="Customers").first.click()
    page.wait_for_url(re.compile(r"/staff/customers/$"))
    rows = page.locator("#customer-results tbody tr")
    expect(rows).to_have_count(len(PEOPLE))
    screenshot(page, "staff-02-customer-list")

    # "/" focuses the search; typing part of a name narrows the results without a page load.
    page.locator("body").press("/")
    expect(page.locator("[data-primary-search]")).to_be_focused()
    page.keyboard.type("zhan", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Wei Zhang")
    expect(page).to_have_url(re.compile(r"\?q=zhan"))
    expect(page.locator(".results-count")).to_have_text("1 customer")
    screenshot(page, "staff-03-customer-search")

    # Keyboard: leave the box, move onto the row, open it.
    page.keyboard.press("ArrowDown")
    expect(rows.first).to_have_class(re.compile("row-active"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/staff/customers/{star.member_number}/$"))
    expect(page.locator("h1")).to_contain_text("Wei Zhang")
    expect(page.locator(".stat-grid")).to_contain_text("8")
    expect(page.locator(".customer-tags")).to_contain_text("VIP")
    screenshot(page, "staff-04-customer-360")

    page.get_by_role("tab", name=re.compile("Orders")).click()
    page.locator("#orders button[aria-controls]").first.click()
    expect(page.locator("#orders").get_by_text("Tieguanyin oolong 250 g").first).to_be_visible()
    screenshot(page, "staff-05-customer-360-orders")

    form = page.locator("#log-interaction")
    form.locator("select[name=kind]").select_option("call")
    form.locator("input[name=summary]").fill("Called about a missing parcel")
    form.locator("textarea[name=body]").fill("Courier confirmed delivery for tomorrow.")
    form.get_by_role("button", name="Log interaction").click()
    expect(page.locator(".alert-success")).to_contain_text("Interaction logged.")
    expect(page.locator("#interactions")).to_be_visible()
    expect(page.locator("#interactions")).to_contain_text("Called about a missing parcel")
    screenshot(page, "staff-06-interaction-logged")

    interaction = Interaction.objects.get(summary="Called about a missing parcel")
    assert (interaction.customer, interaction.kind, interaction.author) == (
        star,
        "call",
        shop["agent"],
    )

    # A long history: the timeline shows a page and reads older ones in place.
    base = timezone.now() - dt.timedelta(days=300)
    Interaction.objects.bulk_create(
        Interaction(
            customer=star, kind="note", summary=f"Old note {i:02d}", at=base + dt.timedelta(days=i)
        )
        for i in range(40)
    )
    page.goto(page.url.split("#")[0])
    timeline = page.locator("#timeline")
    expect(timeline.locator(".timeline-item")).to_have_count(25)
    timeline.get_by_role("link", name="Show older").click()
    expect(timeline.locator(".timeline-item")).to_have_count(50)
    expect(timeline).not_to_contain_text("Old note 00")
    timeline.get_by_role("link", name="Show older").click()
    expect(timeline).to_contain_text("Old note 00")
    expect(timeline.get_by_role("link", name="Show older")).to_have_count(0)
    screenshot(page, "staff-06b-timeline-older")


def test_manager_downloads_the_customer_list_as_excel(page, shop):
    login(page, "manager@test.local")
    page.wait_for_url(re.compile(r"/staff/$"))
    page.goto(f"{page.base_url}/staff/customers/?tag=VIP")
    expect(page.locator("#customer-results tbody tr")).to_have_count(4)
    with page.expect_download() as info:
        page.locator("#customer-results").get_by_role("link", name="Excel").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(download.path().read_bytes()))
    sheet = workbook.active
    header = [cell.value for cell in sheet[1]]
    # Column titles in the reader's language, with the loyalty figures.
    assert header[:5] == ["Member number", "First name", "Last name", "E-mail", "Phone"]
    assert {"Joined", "Store", "Tier", "Points balance"} <= set(header)
    numbers = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    vip = {c.member_number for i, c in enumerate(shop["customers"]) if i % 3 == 0}
    assert numbers == vip


def test_screens_in_simplified_chinese_and_on_a_phone(page, phone_page, shop):
    star = shop["star"]
    for p in (page, phone_page):
        p.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": p.base_url}])
    login(page, "agent@test.local")
    page.wait_for_url(re.compile(r"/staff/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    page.goto(f"{page.base_url}/staff/customers/")
    screenshot(page, "staff-07-customer-list-zh-hans")
    page.goto(f"{page.base_url}/staff/customers/{star.member_number}/")
    screenshot(page, "staff-08-customer-360-zh-hans")

    phone_page.context.clear_cookies()
    login(phone_page, "agent@test.local")
    phone_page.wait_for_url(re.compile(r"/staff/$"))
    phone_page.goto(f"{phone_page.base_url}/staff/customers/{star.member_number}/")
    expect(phone_page.locator("h1")).to_contain_text("Wei Zhang")
    screenshot(phone_page, "staff-09-customer-360-phone")
    phone_page.goto(f"{phone_page.base_url}/staff/customers/")
    screenshot(phone_page, "staff-10-customer-list-phone")

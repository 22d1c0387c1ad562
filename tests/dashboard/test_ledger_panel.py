"""The ledger on the staff 360 page's loyalty panel (and its own page): rows in words with links
to the order, the redemption and the badge where the viewer may follow them, the staff name
of who did it, and a query budget with rows of every kind."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from apps.accounts import roles
from apps.loyalty.models import PointsTransaction
from apps.loyalty.selectors import ledger_described
from tests.conftest import enrolled_member, make_staff
from tests.loyalty import ledger_world

pytestmark = pytest.mark.django_db

PANEL_BUDGET = 27  # the loyalty page with rows of every kind (measured 25)
DETAIL_BUDGET = 48  # the whole 360 page, every panel, customer value included (measured 47)


@pytest.fixture
def lin(superuser):
    ledger_world.programme_and_tiers()
    _, customer = enrolled_member("lin@test.local", first_name="Lin")
    ledger_world.every_kind(customer, actor=superuser)
    return customer


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.parametrize(
    "page", ["dashboard:customer-detail", "dashboard:customer-panel", "dashboard:loyalty-customer"]
)
def test_ledger_rows_read_in_words_with_staff_links(client, manager, lin, page):
    client.force_login(manager)
    if page == "dashboard:customer-detail":  # the page opened on its Loyalty tab
        response = client.get(reverse(page, args=[lin.member_number]) + "?tab=loyalty")
    elif page == "dashboard:customer-panel":  # the tab read on its own when first shown
        response = client.get(reverse(page, args=[lin.member_number, "loyalty"]))
    else:
        response = client.get(reverse(page, args=[lin.member_number]))
    assert response.status_code == 200
    words = text(response)
    assert "Purchase at Shanghai Nanjing Road · order 000000 · Gold ×1.2" in words
    assert "Refund of ¥80 on order 000000" in words
    assert "Redemption cancelled: Tea set 0 · by the member" in words
    assert "Adjustment by staff: Broken cup 0" in words
    assert "Expired: points earned in May 2025" in words
    html = response.content.decode()
    orders = reverse("dashboard:order-list") + "?" + urlencode({"q": "000000", "store": "sh-njr"})
    assert f'href="{orders.replace("&", "&amp;")}">Purchase at Shanghai Nanjing Road</a>' in html
    own = reverse("dashboard:loyalty-customer", args=[lin.member_number])
    redemption = PointsTransaction.objects.filter(kind="redeem").order_by("id").first()
    anchor = f"redemption-{redemption.redemption_id}"
    assert f'href="{own}#{anchor}">Redeemed: Tea set 0</a>' in html and f'id="{anchor}"' in html
    badge = PointsTransaction.objects.get(detail__bonus="badge").detail["badge"]
    assert f'href="{own}#badge-{badge}">Badge: First purchase</a>' in html
    assert f'id="badge-{badge}"' in html
    assert '<div class="table-responsive">' in html  # the ledger scrolls on a phone


def test_staff_without_order_access_get_no_order_link(client, lin):
    viewer = make_staff(roles.SUPPORT_AGENT, email="viewer@test.local")
    viewer.groups.get().permissions.remove(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    response = client.get(reverse("dashboard:loyalty-customer", args=[lin.member_number]))
    assert response.status_code == 200
    assert "Purchase at Shanghai Nanjing Road" in text(response)
    assert reverse("dashboard:order-list") not in response.content.decode()


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_panel_costs_the_same_with_5_or_50_rounds_of_every_kind(
    client, manager, superuser, django_assert_max_num_queries
):
    ledger_world.programme_and_tiers()
    _, customer = enrolled_member("budget@test.local")
    client.force_login(manager)
    panel = reverse("dashboard:loyalty-customer", args=[customer.member_number])
    # The 360 page's Loyalty tab, read on its own when first shown.
    detail = reverse("dashboard:customer-panel", args=[customer.member_number, "loyalty"])
    ledger_world.every_kind(customer, actor=superuser, start=0, n=5)
    client.get(panel)
    few = (_count(client, panel), _count(client, detail))
    ledger_world.every_kind(customer, actor=superuser, start=5, n=45)
    assert PointsTransaction.objects.filter(account__customer=customer).count() > 600
    assert (_count(client, panel), _count(client, detail)) == few
    with django_assert_max_num_queries(PANEL_BUDGET):
        response = client.get(panel)
    assert len(response.context["loyalty_ledger"]) == 50
    with django_assert_max_num_queries(DETAIL_BUDGET):
        client.get(detail)


def test_rows_that_link_no_redemption_or_staff_member_do_not_ask_for_them(lin, superuser):
    # An order's points name no redemption and no staff member: their page asks for neither.
    mine = PointsTransaction.objects.filter(account__customer=lin).order_by("-id")
    plain = mine.filter(redemption__isnull=True, actor__isnull=True, kind="earn")
    linked = mine.filter(redemption__isnull=False)
    with CaptureQueriesContext(connection) as without_links:
        plain_lines = ledger_described(plain)
    with CaptureQueriesContext(connection) as with_links:
        linked_lines = ledger_described(linked)
    assert plain_lines and linked_lines

    def link_queries(ctx) -> int:
        return sum('"loyalty_redemption"' in q["sql"] for q in ctx.captured_queries)

    assert (link_queries(without_links), link_queries(with_links)) == (0, 1)
    assert all(line.tx.redemption is None and line.tx.actor is None for line in plain_lines)
    assert all(line.tx.redemption.reward.name for line in linked_lines)

"""The member's points history at /me/points/: rows in words with their links, filters by what
happened and by dates (bad input is a form error, never a 500 nor everything), one order's rows,
the CSV and Excel downloads (translated header, numbers as numbers, audited) and a query budget
with rows of every kind."""

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.core.models import AuditEvent
from apps.loyalty.models import CustomerBadge, PointsTransaction
from apps.loyalty.services import bonus_award
from tests.conftest import enrolled_member
from tests.loyalty import ledger_world

pytestmark = pytest.mark.django_db

URL = "portal:points"
POINTS_BUDGET = 20  # measured 18 with rows of every kind (tiers, rules and badges named)


@pytest.fixture
def lin(superuser):
    ledger_world.programme_and_tiers()
    user, customer = enrolled_member("lin@test.local", first_name="Lin")
    ledger_world.every_kind(customer, actor=superuser)
    return user, customer


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def headlines(response) -> list[str]:
    return [row["line"].headline for row in response.context["history"]]


def test_history_reads_in_words_with_links(client, lin):
    user, customer = lin
    client.force_login(user)
    response = client.get(reverse(URL))
    assert response.status_code == 200
    page = text(response)
    assert "Purchase at Shanghai Nanjing Road" in page and "order 000000 · Gold ×1.2" in page
    assert "Refund of ¥80 on order 000000" in page
    assert "Expired: points earned in May 2025" in page
    assert "Adjustment by staff: Broken cup 0" in page and "Birthday bonus" in page
    html = response.content.decode()
    redeemed = (
        PointsTransaction.objects.filter(account__customer=customer, kind="redeem")
        .order_by("id")
        .first()
    )
    detail = reverse("portal:redemption-detail", args=[redeemed.redemption_id])
    assert f'<a href="{detail}">Redeemed: Tea set 0</a>' in html
    order = redeemed.account.transactions.get(kind="earn", order__external_id="000000").order
    assert f'<a href="{reverse(URL)}?order={order.pk}#history">Purchase at' in html
    assert f'<a href="{reverse(URL)}#badge-first-purchase">Badge: First purchase</a>' in html
    assert 'id="badge-first-purchase"' in html  # the link lands on the badge


@pytest.mark.parametrize(
    ("kind", "kinds"),
    [
        ("earned", {"earn", "pending", "mature"}),
        ("redeemed", {"redeem", "reverse"}),
        ("expired", {"expire"}),
        ("adjusted", {"adjust", "refund"}),
        ("", {"earn", "pending", "mature", "redeem", "reverse", "expire", "adjust", "refund"}),
    ],
)
def test_filter_by_what_happened(client, lin, kind, kinds):
    client.force_login(lin[0])
    response = client.get(reverse(URL), {"kind": kind})
    assert response.status_code == 200 and response.context["form"].is_valid()
    assert {row["line"].tx.kind for row in response.context["history"]} == kinds


def test_filter_by_dates_includes_both_days_in_the_business_time_zone(client, lin):
    user, customer = lin
    client.force_login(user)
    may = timezone.make_aware(dt.datetime(2025, 5, 10, 23, 30))  # local time
    bonus_award(customer=customer, points=7, key="may-10-late", reason="late", at=may)
    response = client.get(reverse(URL), {"date_from": "2025-05-10", "date_to": "2025-05-10"})
    days = {timezone.localdate(row["line"].tx.created_at) for row in response.context["history"]}
    assert days == {dt.date(2025, 5, 10)}
    assert {row["line"].tx.points for row in response.context["history"]} == {40, 7}
    response = client.get(reverse(URL), {"date_from": "2025-05-11", "date_to": "2025-12-31"})
    assert response.context["history"] == []
    assert "Nothing matches these filters." in text(response)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "2026-13-40"}, "date_from", "Enter a valid date."),
        ({"date_to": "yesterday"}, "date_to", "Enter a valid date."),
        (
            {"date_from": "2026-05-02", "date_to": "2026-05-01"},
            "date_to",
            "The end date is before the start date.",
        ),
        ({"date_from": "0001-01-01"}, "date_from", "Enter a date between 1 Jan 2000"),
        ({"date_to": "9999-12-31"}, "date_to", "Enter a date between 1 Jan 2000"),
        ({"kind": "everything'--"}, "kind", "Select a valid choice."),
        ({"order": "abc"}, "__all__", "This order link is not valid."),
        ({"order": "99999999999999999999999"}, "__all__", "This order link is not valid."),
    ],
)
def test_invalid_filters_are_form_errors_and_show_nothing(client, lin, query, field, message):
    client.force_login(lin[0])
    response = client.get(reverse(URL), query)
    assert response.status_code == 200
    form = response.context["form"]
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field])
    assert message in response.content.decode()
    assert response.context["history"] == [] and response.context["export_query"] is None
    assert 'data-testid="history-csv"' not in response.content.decode()


def test_an_order_link_shows_that_orders_rows_and_another_members_order_nothing(
    client, lin, superuser
):
    user, customer = lin
    order = PointsTransaction.objects.get(
        account__customer=customer, kind="earn", order__external_id="000000"
    ).order
    client.force_login(user)
    response = client.get(reverse(URL), {"order": order.pk})
    assert {row["line"].tx.kind for row in response.context["history"]} == {"earn", "refund"}
    assert "Points of order 000000" in text(response) and "Show everything" in text(response)
    _, other = enrolled_member("other@test.local")
    ledger_world.every_kind(other, actor=superuser, start=7)
    theirs = PointsTransaction.objects.filter(account__customer=other, order__isnull=False).first()
    response = client.get(reverse(URL), {"order": theirs.order_id})
    assert response.status_code == 200 and response.context["history"] == []


def test_history_is_paginated_and_keeps_the_filters(client, lin, superuser):
    user, customer = lin
    ledger_world.every_kind(customer, actor=superuser, start=1, n=3)
    client.force_login(user)
    response = client.get(reverse(URL), {"kind": "earned"})
    assert len(response.context["history"]) == 25
    assert "?kind=earned&amp;page=2" in response.content.decode()


# --- downloads ----------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_of_the_members_own_history_is_audited(client, lin):
    user, customer = lin
    client.force_login(user)
    response = client.get(reverse("portal:points-export", args=["csv"]), {"kind": "redeemed"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"points-{customer.member_number}-" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == [
        "date",
        "kind",
        "description",
        "details",
        "points",
        "pending points",
        "balance after",
        "order",
        "store",
    ]
    body = sorted((r[1], r[2], r[3], r[4]) for r in rows[1:])
    assert body == [
        ("Redeemed", "Redeemed: Tea set 0", "", "-10"),
        ("Redeemed", "Redeemed: Tea set 0", "", "-10"),
        ("Redeemed", "Redeemed: Tea set 0", "", "-10"),
        ("Redemption cancelled", "Redemption cancelled: Tea set 0", "Out of stock at the store",
         "10"),
        ("Redemption cancelled", "Redemption cancelled: Tea set 0", "at your request", "10"),
    ]  # fmt: skip
    event = AuditEvent.objects.get(action="export.points_history")
    assert event.actor == user and event.after["rows"] == 5
    assert event.after["group"] == "redeemed" and event.after["format"] == "csv"


def test_xlsx_export_has_numbers_as_numbers_and_the_sentence_in_words(client, lin):
    client.force_login(lin[0])
    response = client.get(reverse("portal:points-export", args=["xlsx"]), {"kind": "adjusted"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("date", "kind", "description", "details", "points")
    refund = next(r for r in rows[1:] if r[2].startswith("Refund"))
    assert refund[2] == "Refund of ¥80 on order 000000"
    assert refund[4] == -96 and isinstance(refund[6], int) and refund[7] == "000000"
    assert refund[8] == "Shanghai Nanjing Road" and isinstance(refund[0], dt.datetime)
    assert AuditEvent.objects.filter(action="export.points_history").count() == 1


def test_export_header_follows_the_language(client, lin):
    client.force_login(lin[0])
    english = _csv(client.get(reverse("portal:points-export", args=["csv"])))
    chinese = _csv(
        client.get(
            reverse("portal:points-export", args=["csv"]), headers={"accept-language": "zh-hans"}
        )
    )
    assert len(chinese) == len(english) and len(chinese[0]) == 9
    # Times and numbers do not depend on the language; the words are the reader's.
    assert [r[4] for r in chinese[1:]] == [r[4] for r in english[1:]]


def test_export_with_invalid_filters_sends_back_to_the_page_and_writes_no_audit(client, lin):
    client.force_login(lin[0])
    response = client.get(
        reverse("portal:points-export", args=["csv"]), {"date_from": "2026-02-30"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(URL) + "?date_from=2026-02-30")
    assert not AuditEvent.objects.filter(action="export.points_history").exists()
    assert client.get(reverse("portal:points-export", args=["pdf"])).status_code == 404


def test_export_needs_a_signed_in_member(client, lin):
    response = client.get(reverse("portal:points-export", args=["csv"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- query budget -------------------------------------------------------------------------------


def _count(client, url: str, **query) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, query)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_points_page_costs_the_same_with_5_or_50_rounds_of_every_kind(
    client, superuser, django_assert_max_num_queries
):
    ledger_world.programme_and_tiers()
    user, customer = enrolled_member("budget@test.local")
    client.force_login(user)
    url = reverse(URL)
    ledger_world.every_kind(customer, actor=superuser, start=0, n=5)
    client.get(url)
    few = _count(client, url)
    few_filtered = _count(client, url, kind="earned", date_from="2020-01-01")
    ledger_world.every_kind(customer, actor=superuser, start=5, n=45)
    assert PointsTransaction.objects.filter(account__customer=customer).count() > 600
    assert CustomerBadge.objects.filter(customer=customer).exists()
    assert _count(client, url) == few
    assert _count(client, url, kind="earned", date_from="2020-01-01") == few_filtered
    with django_assert_max_num_queries(POINTS_BUDGET):
        response = client.get(url)
    assert len(response.context["history"]) == 25

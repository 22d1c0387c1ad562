"""Exports of the loyalty lists, the campaign list and the segment list (issue 14): each takes the
rows its page shows under the page's filters, to CSV and XLSX, with column titles and labels,
money typed, formula-like text inert, one audit event per export with its filters, the page's
permission, a large ledger written in the background, and queries that do not grow with rows."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.analytics.services.segments import segment_save
from apps.core.models import AuditEvent, ExportJob
from apps.loyalty.models import PointsTransaction
from apps.loyalty.services import points_adjust, redemption_fulfil, reward_redeem
from tests.accounts.factories import UserFactory
from tests.campaigns.factories import EVERYONE, broadcast, journey
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import EarnRuleFactory, ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


def _sheet(response):
    assert response.status_code == 200, response.status_code
    return load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


def _records(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def _cells(ws) -> list[dict]:
    header = [c.value for c in ws[1]]
    return [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2)]


def _export(client, name: str, fmt: str, **query):
    return client.get(reverse(f"dashboard:{name}"), {"format": fmt, **query})


def _audits(action: str) -> list[tuple]:
    events = AuditEvent.objects.filter(action=action).order_by("id")
    return [(e.actor_id, e.after["format"], e.after["rows"], e.after["filters"]) for e in events]


@pytest.fixture
def programme(db):
    return ProgrammeFactory(adjustment_limit=500)


# --- the points ledger ----------------------------------------------------------------------------


@pytest.fixture
def ledger(programme, superuser):
    lin = CustomerFactory(first_name="Lin", last_name="Wei")
    mia = CustomerFactory(first_name="Mia", last_name="Chen")
    points_adjust(customer=lin, points=120, reason="Welcome gift", actor=superuser)
    points_adjust(customer=lin, points=-20, reason="=1+1", actor=superuser)
    points_adjust(customer=mia, points=50, reason="Goodwill", actor=superuser)
    return {"lin": lin, "mia": mia}


def test_ledger_export_has_the_members_rows_with_titles_and_labels(
    client, manager, superuser, ledger
):
    lin = ledger["lin"]
    client.force_login(manager)

    rows = _csv(_export(client, "loyalty-ledger-export", "csv", member=lin.member_number))

    assert rows[0][:7] == [
        "Date",
        "Member number",
        "Kind",
        "Points",
        "Pending points",
        "Balance after",
        "Reason",
    ]
    records = _records(rows)
    assert [(r["Member number"], r["Kind"], r["Points"], r["Balance after"]) for r in records] == [
        (lin.member_number, "Adjusted", "120", "120"),
        (lin.member_number, "Adjusted", "-20", "100"),
    ]
    assert records[1]["Reason"] == "'=1+1"  # inert in a spreadsheet
    assert records[0]["Recorded by"] == superuser.email

    cells = _cells(_sheet(_export(client, "loyalty-ledger-export", "xlsx")))
    assert len(cells) == PointsTransaction.objects.count() == 3
    evil = next(row["Reason"] for row in cells if row["Reason"].value == "=1+1")
    assert evil.data_type == "s" and evil.quotePrefix
    assert isinstance(cells[0]["Date"].value, dt.datetime)
    assert cells[0]["Points"].data_type == "n"

    assert _audits("export.ledger") == [
        (manager.pk, "csv", 2, {"member": lin.member_number}),
        (manager.pk, "xlsx", 3, {}),
    ]


def test_ledger_export_filters_by_kind_and_day(client, manager, ledger):
    client.force_login(manager)
    today = timezone.localdate().isoformat()

    assert len(_csv(_export(client, "loyalty-ledger-export", "csv", kind="earn"))) == 1
    rows = _csv(_export(client, "loyalty-ledger-export", "csv", kind="adjust", date_from=today))
    assert len(rows) == 4
    # A period that ends before it starts is refused, not exported as "everything".
    response = _export(
        client, "loyalty-ledger-export", "csv", date_from=today, date_to="2000-01-01"
    )
    assert response.status_code == 400
    assert [a[2:] for a in _audits("export.ledger")] == [
        (0, {"kind": "earn"}),
        (3, {"kind": "adjust", "date_from": today}),
    ]


def test_the_ledger_page_offers_the_export(client, manager, ledger):
    client.force_login(manager)
    body = client.get(reverse("dashboard:loyalty-ledger"), {"kind": "adjust"}).content.decode()
    assert reverse("dashboard:loyalty-ledger-export") in body
    assert 'name="format" value="xlsx"' in body
    assert '<option value="adjust" selected>' in body


def test_a_large_ledger_export_runs_in_the_background(
    client, manager, ledger, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = _export(client, "loyalty-ledger-export", "csv", kind="adjust")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("dashboard:export-job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.kind, job.total_rows, job.processed_rows) == (
        ExportJob.Status.DONE,
        "ledger",
        3,
        3,
    )
    assert job.params == {"kind": "adjust"}
    download = client.get(reverse("dashboard:export-job-download", args=[job.pk]))
    background = list(
        csv.reader(
            io.StringIO(b"".join(download.streaming_content).decode().lstrip("\ufeff"), newline="")
        )
    )

    settings.EXPORT_BACKGROUND_ROWS = 100
    inline = _csv(_export(client, "loyalty-ledger-export", "csv", kind="adjust"))
    assert background == inline and len(inline) == 4
    assert [a[2:] for a in _audits("export.ledger")] == [
        (3, {"kind": "adjust"}),
        (3, {"kind": "adjust"}),
    ]


# --- redemptions and fulfilment -------------------------------------------------------------------


@pytest.fixture
def redemptions(programme, superuser):
    lin = CustomerFactory(first_name="Lin", last_name="Wei")
    points_adjust(customer=lin, points=1000, reason="Gift", actor=superuser)
    mug = RewardFactory(name="Tea mug", kind="physical", cost_points=100)
    waiting = reward_redeem(customer=lin, reward=mug, key="r-1", delivery_address="=1 Main St")
    done = reward_redeem(customer=lin, reward=mug, quantity=2, key="r-2")
    redemption_fulfil(redemption=done, actor=superuser, notes="Shipped")
    return {"lin": lin, "waiting": waiting, "done": done}


def test_redemption_export_follows_the_status_tab(client, agent, redemptions):
    client.force_login(agent)

    waiting = _records(_csv(_export(client, "loyalty-redemption-export", "csv")))
    assert [(r["Reward"], r["Quantity"], r["Status"]) for r in waiting] == [
        ("Tea mug", "1", "Requested")
    ]
    assert waiting[0]["Member"] == "Lin Wei"
    assert waiting[0]["Reward kind"] == "Physical gift"
    assert waiting[0]["Delivery address"] == "'=1 Main St"

    fulfilled = _cells(
        _sheet(_export(client, "loyalty-redemption-export", "xlsx", status="fulfilled"))
    )
    assert [(r["Quantity"].value, r["Status"].value, r["Notes"].value) for r in fulfilled] == [
        (2, "Fulfilled", "Shipped")
    ]
    assert isinstance(fulfilled[0]["Fulfilled"].value, dt.datetime)
    assert _audits("export.redemptions") == [
        (agent.pk, "csv", 1, {"status": "requested"}),
        (agent.pk, "xlsx", 1, {"status": "fulfilled"}),
    ]


def test_the_redemption_page_links_its_export_with_its_tab(client, agent, redemptions):
    client.force_login(agent)
    body = client.get(
        reverse("dashboard:loyalty-redemption-list"), {"status": "fulfilled"}
    ).content.decode()
    url = reverse("dashboard:loyalty-redemption-export")
    assert f"{url}?status=fulfilled&amp;format=xlsx" in body


# --- approvals --------------------------------------------------------------------------------------


def test_approval_export_lists_the_waiting_adjustments(client, manager, agent, programme):
    lin = CustomerFactory(first_name="Lin", last_name="Wei")
    points_adjust(customer=lin, points=900, reason="Goodwill", actor=agent)
    client.force_login(manager)

    records = _records(_csv(_export(client, "loyalty-approval-export", "csv")))

    assert [
        (r["Member"], r["Points"], r["Balance now"], r["Reason"], r["Requested by"])
        for r in records
    ] == [("Lin Wei", "900", "0", "Goodwill", "Ann Agent")]
    assert _audits("export.approvals") == [(manager.pk, "csv", 1, {})]


# --- rewards, rules, tiers ------------------------------------------------------------------------


def test_reward_export_takes_the_search_and_kind(client, marketer, programme):
    silver = TierFactory(slug="silver", name="Silver", rank=1)
    RewardFactory(name="=1+1", slug="formula", kind="voucher", cost_points=50)
    RewardFactory(name="Tea mug", slug="mug", kind="physical", stock=None, min_tier=silver)
    RewardFactory(name="Tea towel", slug="towel", kind="physical", stock=3, is_active=False)
    client.force_login(marketer)

    records = _records(_csv(_export(client, "loyalty-reward-export", "csv", kind="physical")))
    assert [
        (r["Reward"], r["Kind"], r["Stock"], r["Minimum tier"], r["Active"]) for r in records
    ] == [
        ("Tea mug", "Physical gift", "Unlimited", "Silver", "Yes"),
        ("Tea towel", "Physical gift", "3", "", "No"),
    ]

    cells = _cells(_sheet(_export(client, "loyalty-reward-export", "xlsx", q="=1")))
    assert [(r["Reward"].value, r["Cost (points)"].value) for r in cells] == [("=1+1", 50)]
    assert cells[0]["Reward"].data_type == "s" and cells[0]["Reward"].quotePrefix
    assert _audits("export.rewards") == [
        (marketer.pk, "csv", 2, {"kind": "physical"}),
        (marketer.pk, "xlsx", 1, {"q": "=1"}),
    ]


def test_earn_rule_export_has_money_and_labels(client, manager, programme):
    gold = TierFactory(slug="gold", name="Gold", rank=2)
    rule = EarnRuleFactory(
        name="Tea ×2", kind="category", category="tea", min_spend=Decimal("50"), priority=10
    )
    rule.tiers.add(gold)
    EarnRuleFactory(name="Old", is_active=False)
    client.force_login(manager)

    records = _records(_csv(_export(client, "loyalty-rule-export", "csv", active="yes")))
    assert [
        (r["Name"], r["Kind"], r["Category"], r["Only for tiers"], r["Minimum spend (¥)"])
        for r in records
    ] == [("Tea ×2", "Category multiplier", "tea", "Gold", "50.00")]

    cells = _cells(_sheet(_export(client, "loyalty-rule-export", "xlsx")))
    assert [r["Name"].value for r in cells] == ["Tea ×2", "Old"]
    spend = cells[0]["Minimum spend (¥)"]
    assert spend.value == 50 and spend.number_format == '"¥"#,##0.00'
    assert cells[1]["Active"].value == "No"
    assert _audits("export.earn_rules") == [
        (manager.pk, "csv", 1, {"active": "yes"}),
        (manager.pk, "xlsx", 2, {}),
    ]


def test_tier_export_has_thresholds_as_money_and_members(client, manager, programme):
    TierFactory(slug="member", name="Member", rank=0)
    TierFactory(
        slug="silver",
        name="Silver",
        rank=1,
        threshold=Decimal(1000),
        retention_threshold=Decimal(800),
        benefits="Free tea\nBirthday gift",
    )
    client.force_login(manager)

    records = _records(_csv(_export(client, "loyalty-tier-export", "csv")))
    assert [(r["Tier"], r["Qualifies by"], r["To reach"], r["Benefits"]) for r in records] == [
        ("Member", "Spend", "0.00", ""),
        ("Silver", "Spend", "1000.00", "Free tea; Birthday gift"),
    ]
    cells = _cells(_sheet(_export(client, "loyalty-tier-export", "xlsx")))
    assert cells[1]["To keep"].value == 800
    assert cells[1]["To keep"].number_format == '"¥"#,##0.00'
    assert cells[1]["Members"].value == 0
    assert len(_audits("export.tiers")) == 2


# --- campaigns and segments -----------------------------------------------------------------------


def test_campaign_export_takes_the_kind_and_status(client, marketer, manager):
    broadcast(actor=manager)
    journey(trigger="birthday", actor=manager)
    client.force_login(marketer)

    records = _records(_csv(_export(client, "campaign-list-export", "csv", kind="broadcast")))
    assert [(r["Campaign"], r["Kind"], r["Status"], r["Segment"]) for r in records] == [
        ("Spring sale", "Broadcast", "Draft", "Everyone")
    ]
    assert "Spent (¥)" in records[0]

    cells = _cells(_sheet(_export(client, "campaign-list-export", "xlsx", status="draft")))
    assert sorted(r["Kind"].value for r in cells) == ["Broadcast", "Journey"]
    trigger = next(r["Trigger"].value for r in cells if r["Kind"].value == "Journey")
    assert trigger == "Birthday"
    assert cells[0]["Spent (¥)"].number_format == '"¥"#,##0.00'
    assert _audits("export.campaigns") == [
        (marketer.pk, "csv", 1, {"kind": "broadcast"}),
        (marketer.pk, "xlsx", 2, {"status": "draft"}),
    ]


def test_segment_list_export(client, marketer):
    segment_save(actor=marketer, rules=EVERYONE, names={"name_en": "=1+1"})
    segment_save(actor=marketer, rules=EVERYONE, names={"name_en": "Everyone"})
    client.force_login(marketer)

    records = _records(_csv(_export(client, "segment-list-export", "csv")))
    assert [(r["Segment"], r["Created by"]) for r in records] == [
        ("'=1+1", "Mark Eter"),
        ("Everyone", "Mark Eter"),
    ]
    cells = _cells(_sheet(_export(client, "segment-list-export", "xlsx")))
    assert cells[0]["Segment"].value == "=1+1" and cells[0]["Segment"].data_type == "s"
    assert isinstance(cells[0]["Updated"].value, dt.datetime)
    assert _audits("export.segments") == [
        (marketer.pk, "csv", 2, {}),
        (marketer.pk, "xlsx", 2, {}),
    ]


# --- the buttons, permissions, My exports and queries ----------------------------------------------

PAGES = [
    ("loyalty-reward-list", "loyalty-reward-export", {"q": "mug", "kind": "physical"}),
    ("loyalty-rule-list", "loyalty-rule-export", {"active": "no"}),
    ("loyalty-tier-list", "loyalty-tier-export", {}),
    ("loyalty-approval-list", "loyalty-approval-export", {}),
    ("campaign-list", "campaign-list-export", {"kind": "triggered"}),
    ("segment-list", "segment-list-export", {}),
]


@pytest.mark.parametrize(("page", "export", "query"), PAGES)
def test_each_list_shows_csv_and_excel_buttons_with_its_filters(
    client, manager, programme, page, export, query
):
    client.force_login(manager)
    body = client.get(reverse(f"dashboard:{page}"), query).content.decode()
    url = reverse(f"dashboard:{export}")
    for fmt in ("csv", "xlsx"):
        expected = "&amp;".join([*(f"{k}={v}" for k, v in query.items()), f"format={fmt}"])
        assert f'href="{url}?{expected}"' in body


@pytest.mark.parametrize(
    ("role", "export"),
    [
        ("agent", "loyalty-ledger-export"),
        ("marketer", "loyalty-ledger-export"),
        ("marketer", "loyalty-redemption-export"),
        ("agent", "loyalty-approval-export"),
        ("agent", "segment-list-export"),
        ("none", "loyalty-reward-export"),
        ("none", "loyalty-rule-export"),
        ("none", "loyalty-tier-export"),
        ("none", "campaign-list-export"),
    ],
)
def test_a_role_without_the_lists_permission_gets_403(request, client, role, export):
    user = UserFactory(is_staff=True) if role == "none" else request.getfixturevalue(role)
    client.force_login(user)
    for fmt in ("csv", "xlsx"):
        assert _export(client, export, fmt).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_my_exports_runs_a_list_export_again(client, manager, programme):
    RewardFactory(name="Tea mug", kind="physical")
    client.force_login(manager)
    _csv(_export(client, "loyalty-reward-export", "csv", kind="physical"))

    page = client.get(reverse("dashboard:export-list"))
    row = page.context["rows"][0]
    assert row.label == "Rewards exported"
    assert row.filters == [("Kind", "Physical gift")]
    assert row.again_url == reverse("dashboard:loyalty-reward-export") + (
        "?format=csv&kind=physical"
    )
    assert len(_csv(client.get(row.again_url))) == 2


def _grow(n: int, superuser) -> None:
    """``n`` rows in every list: ledger rows, waiting redemptions, rewards, rules, tiers,
    campaigns, segments."""
    start = TierFactory._meta.model.objects.count()
    for i in range(n):
        customer = CustomerFactory()
        points_adjust(customer=customer, points=500, reason="Gift", actor=superuser)
        reward = RewardFactory(kind="physical", cost_points=10)
        reward_redeem(customer=customer, reward=reward, key=f"q-{customer.pk}")
        rule = EarnRuleFactory()
        tier = TierFactory(slug=f"t{start + i}", rank=start + i)
        rule.tiers.add(tier)
        segment = segment_save(actor=superuser, rules=EVERYONE, names={"name_en": f"S{i}"})
        broadcast(actor=superuser, segment=segment)


EXPORTS = [
    "loyalty-ledger-export",
    "loyalty-redemption-export",
    "loyalty-reward-export",
    "loyalty-rule-export",
    "loyalty-tier-export",
    "campaign-list-export",
    "segment-list-export",
]


def _queries(client, export: str, fmt: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = _export(client, export, fmt)
        b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("export", EXPORTS)
def test_export_queries_do_not_grow_with_the_rows(
    client, superuser, programme, export, django_assert_max_num_queries
):
    client.force_login(superuser)
    _grow(2, superuser)
    budget = {fmt: _queries(client, export, fmt) for fmt in ("csv", "xlsx")}
    _grow(18, superuser)
    for fmt in ("csv", "xlsx"):
        with django_assert_max_num_queries(budget[fmt]):
            response = _export(client, export, fmt)
            rows = _csv(response) if fmt == "csv" else list(_sheet(response).iter_rows(min_row=2))
        assert len(rows) >= 20

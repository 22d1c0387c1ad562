"""The audit trail page ``/staff/audit/``: who may read it, filters, keyset pages, readable rows,
the audited export, the query budget and the read-only Django admin."""

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.core.audit import PAGE_SIZE
from apps.core.models import AuditEvent
from apps.core.services import audit_record
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = "dashboard:audit-list"
EXPORT = "dashboard:audit-export"
T0 = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
AUDIT_BUDGET = 14  # 8 are the session, user, user-session, permission and role look-ups


def _event(at=T0, **fields) -> AuditEvent:
    return AuditEvent.objects.create(at=at, **fields)


def _ids(response) -> list[int]:
    return [row.event.pk for row in response.context["rows"]]


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


# --- who may read it ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "marketer"])
def test_agent_and_marketer_are_refused_every_audit_page(client, request, role):
    event = _event(action="customer.update")
    client.force_login(request.getfixturevalue(role))

    for url in (
        reverse(LIST),
        reverse("dashboard:audit-detail", args=[event.pk]),
        reverse(EXPORT) + "?format=csv",
    ):
        assert client.get(url).status_code == 403
    # The refused export wrote nothing.
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [event.pk]


@pytest.mark.parametrize("role", ["manager", "administrator"])
def test_manager_and_administrator_read_the_trail(client, request, role):
    event = _event(action="customer.update")
    client.force_login(request.getfixturevalue(role))

    response = client.get(reverse(LIST))

    assert response.status_code == 200
    assert _ids(response) == [event.pk]
    assert client.get(reverse("dashboard:audit-detail", args=[event.pk])).status_code == 200


def test_member_is_refused_and_anonymous_is_sent_to_log_in(client, member_user):
    url = reverse(LIST)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    client.force_login(member_user)
    assert client.get(url).status_code == 403


def test_navigation_shows_the_audit_trail_to_managers_only(client, manager, agent, marketer):
    url = reverse(LIST)
    for user, shown in ((manager, True), (agent, False), (marketer, False)):
        client.force_login(user)
        page = client.get(reverse("dashboard:home")).content.decode()
        assert (f'href="{url}"' in page) is shown


def test_unknown_event_is_404(client, manager):
    client.force_login(manager)
    assert client.get(reverse("dashboard:audit-detail", args=[999999])).status_code == 404


# --- filters --------------------------------------------------------------------------------


@pytest.fixture
def trail(manager, agent):
    """Four events: two actors, three actions, two target types, three days (Shanghai time)."""
    return [
        _event(T0, actor=agent, action="customer.update", target_type="customers.customer", target_id="7"),
        _event(T0 + dt.timedelta(hours=1), actor=manager, action="points.adjust", target_type="loyalty.loyaltyaccount", target_id="7"),
        _event(T0 + dt.timedelta(days=1), actor=agent, action="consent.grant", target_type="customers.customer", target_id="8"),
        _event(T0 + dt.timedelta(days=2), actor=None, actor_label="system", action="points.adjust", target_type="loyalty.loyaltyaccount", target_id="9"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, [3, 2, 1, 0]),
        ({"actor": "agent@test.local"}, [2, 0]),
        ({"actor": "AGENT@test.local"}, [2, 0]),
        ({"action": "points.adjust"}, [3, 1]),
        ({"target_type": "customers.customer"}, [2, 0]),
        ({"target_type": "loyalty.loyaltyaccount", "target_id": "7"}, [1]),
        ({"date_from": "2026-03-02"}, [3, 2]),
        ({"date_to": "2026-03-01"}, [1, 0]),
        ({"date_from": "2026-03-02", "date_to": "2026-03-02"}, [2]),
        ({"actor": "manager@test.local", "action": "points.adjust"}, [1]),
        ({"action": "never.happened"}, []),
    ],
)
def test_each_filter_shows_exactly_its_rows(client, manager, trail, settings, query, expected):
    settings.TIME_ZONE = "Asia/Shanghai"  # T0 is 12:00 on 1 March there
    client.force_login(manager)

    response = client.get(reverse(LIST), query)

    assert response.status_code == 200
    assert _ids(response) == [trail[i].pk for i in expected]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"actor": "nobody@test.local"}, "actor"),
        ({"date_from": "2026-03-03", "date_to": "2026-03-01"}, "date_to"),
        ({"target_id": "7"}, "target_type"),
        ({"action": "DROP TABLE"}, "action"),
    ],
)
def test_a_filter_that_cannot_apply_shows_nothing_and_says_why(
    client, manager, trail, query, field
):
    client.force_login(manager)

    response = client.get(reverse(LIST), query)

    assert response.status_code == 200
    assert response.context["rows"] == []
    assert list(response.context["form"].errors) == [field]


def test_filter_link_of_a_target_lists_its_events(client, manager, trail):
    client.force_login(manager)
    page = client.get(reverse(LIST)).content.decode()
    assert "target_type=customers.customer&amp;target_id=8" in page


# --- keyset pages ---------------------------------------------------------------------------


def _older_link(response) -> str | None:
    match = re.search(r'href="\?([^"]*older=[^"]*)"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def test_pages_walk_every_row_once_with_equal_timestamps(client, manager):
    # 2.5 pages of events on only four distinct times: the id breaks every tie.
    n = PAGE_SIZE * 2 + PAGE_SIZE // 2
    AuditEvent.objects.bulk_create(
        AuditEvent(at=T0 + dt.timedelta(seconds=i % 4), action="customer.update") for i in range(n)
    )
    expected = list(AuditEvent.objects.order_by("-at", "-id").values_list("pk", flat=True))
    client.force_login(manager)

    seen, query, pages = [], "action=customer.update", 0
    while query is not None:
        response = client.get(reverse(LIST) + "?" + query)
        seen += _ids(response)
        pages += 1
        query = _older_link(response)
        if query:
            assert "action=customer.update" in query  # the filters stay on the link

    assert pages == 3
    assert seen == expected


# --- readable rows --------------------------------------------------------------------------


def test_rows_say_who_what_and_link_the_customer(client, manager, agent):
    customer = CustomerFactory(email="old@example.org")
    audit_record(
        actor=agent,
        action="customer.update",
        target=customer,
        summary="profile",
        before={"email": "old@example.org", "city": "Shanghai"},
        after={"email": "new@example.org", "city": "Shanghai"},
    )
    _event(timezone.now() - dt.timedelta(days=1), action="brand.new_code")
    client.force_login(manager)

    response = client.get(reverse(LIST), HTTP_ACCEPT_LANGUAGE="en")

    known, unknown = response.context["rows"]
    assert (known.actor_name, known.actor_email) == ("Ann Agent", "agent@test.local")
    assert known.action_label == "Customer changed"
    assert known.target_label == "Customer"
    assert known.target_url == reverse("dashboard:customer-detail", args=[customer.member_number])
    assert [(d.key, d.before, d.after) for d in known.diff] == [
        ("email", "old@example.org", "new@example.org")
    ]
    assert (unknown.action_label, unknown.actor_name, unknown.target_url) == (
        "brand.new_code",
        "system",
        "",
    )
    page = response.content.decode()
    assert "Customer changed" in page and "new@example.org" in page and "<details" in page


def test_detail_page_shows_the_diff_and_the_recorded_json(client, manager):
    event = _event(
        action="programme.update",
        target_type="loyalty.programme",
        target_id="1",
        before={"pending_days": 14},
        after={"pending_days": 30},
    )
    client.force_login(manager)

    response = client.get(reverse("dashboard:audit-detail", args=[event.pk]))

    row = response.context["row"]
    assert [(d.key, d.before, d.after, d.status) for d in row.diff] == [
        ("pending_days", "14", "30", "changed")
    ]
    assert '"pending_days": 30' in response.context["after_json"]


def test_page_has_no_inline_script_or_handler(client, manager, trail):
    client.force_login(manager)
    for url in (reverse(LIST), reverse("dashboard:audit-detail", args=[trail[0].pk])):
        page = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert not re.search(r"\son[a-z]+=", page)


# --- query budget ---------------------------------------------------------------------------


def _mixed_events(n: int, customers, actors) -> None:
    kinds = [
        ("customer.update", "customers.customer", lambda i: str(customers[i % 3].pk)),
        ("points.adjust", "loyalty.loyaltyaccount", lambda i: str(i)),
        ("reward.update", "loyalty.reward", lambda i: str(i)),
        ("export.customers", "", lambda i: ""),
    ]
    AuditEvent.objects.bulk_create(
        AuditEvent(
            at=timezone.now() - dt.timedelta(minutes=i),
            actor=actors[i % len(actors)],
            action=kinds[i % 4][0],
            target_type=kinds[i % 4][1],
            target_id=kinds[i % 4][2](i),
            before={"n": i},
            after={"n": i + 1},
        )
        for i in range(n)
    )


def test_audit_page_budget_is_the_same_with_5_or_500_rows(
    client, manager, agent, count_queries, django_assert_max_num_queries
):
    customers = CustomerFactory.create_batch(3)
    client.force_login(manager)
    url = reverse(LIST)
    _mixed_events(5, customers, [manager, agent, None])
    small = count_queries(client, url)
    _mixed_events(495, customers, [manager, agent, None])
    large = count_queries(client, url)

    assert small == large
    assert large <= AUDIT_BUDGET
    older = _older_link(client.get(url))
    with django_assert_max_num_queries(AUDIT_BUDGET):
        client.get(url + "?" + older)


# --- export ---------------------------------------------------------------------------------


def test_export_writes_exactly_one_audit_event_and_escapes_formulas(client, manager):
    first = _event(
        T0, action="customer.update", summary='=HYPERLINK("http://x","y")', after={"a": 1}
    )
    second = _event(T0 + dt.timedelta(minutes=1), action="points.adjust", summary="+1 goodwill")
    client.force_login(manager)

    response = client.get(reverse(EXPORT), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    rows = _csv(response)
    assert rows[0] == [
        "When", "Event", "Actor e-mail", "Actor", "Action", "Action code", "Target type",
        "Target id", "Summary", "Before", "After",
    ]  # fmt: skip
    assert [(r[1], r[4], r[5], r[8], r[10]) for r in rows[1:]] == [
        (str(second.pk), "Points adjusted", "points.adjust", "'+1 goodwill", ""),
        (str(first.pk), "Customer changed", "customer.update", '\'=HYPERLINK("http://x","y")', '{"a": 1}'),
    ]  # fmt: skip
    # Exactly one new event: the export's own, not itself in the file it describes.
    export = AuditEvent.objects.exclude(pk__in=[first.pk, second.pk]).get()
    assert (export.action, export.actor) == ("export.audit", manager)
    assert export.after == {"format": "csv", "filters": {}, "rows": 2, "truncated": False}


def test_export_applies_the_filters_and_records_them(client, manager, agent, trail):
    client.force_login(manager)
    before = AuditEvent.objects.count()

    response = client.get(
        reverse(EXPORT), {"format": "xlsx", "actor": "agent@test.local", "older": "1.1"}
    )

    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, *rows = list(ws.iter_rows(values_only=True))
    assert [r[header.index("Event")] for r in rows] == [trail[2].pk, trail[0].pk]
    assert isinstance(rows[0][header.index("When")], dt.datetime)
    assert AuditEvent.objects.count() == before + 1
    export = AuditEvent.objects.get(action="export.audit")
    assert export.after == {
        "format": "xlsx",
        "filters": {"actor": "agent@test.local"},
        "rows": 2,
        "truncated": False,
    }


def test_export_with_a_filter_that_cannot_apply_is_refused_and_not_audited(client, manager, trail):
    client.force_login(manager)

    response = client.get(reverse(EXPORT), {"format": "csv", "actor": "nobody@test.local"})

    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="export.audit").exists()
    assert AuditEvent.objects.count() == len(trail)


# --- Django admin ---------------------------------------------------------------------------


def test_admin_lists_audit_events_read_only(client, administrator):
    event = _event(action="customer.update", summary="kept")
    client.force_login(administrator)
    base = "admin:core_auditevent"

    assert client.get(reverse(f"{base}_changelist")).status_code == 200
    assert client.get(reverse(f"{base}_change", args=[event.pk])).status_code == 200
    assert client.get(reverse(f"{base}_add")).status_code == 403
    assert client.post(reverse(f"{base}_add"), {"action": "forged"}).status_code == 403
    assert (
        client.post(reverse(f"{base}_change", args=[event.pk]), {"summary": "x"}).status_code == 403
    )
    assert (
        client.post(reverse(f"{base}_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )
    assert client.post(
        reverse(f"{base}_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    ).status_code in (200, 302, 403)
    assert list(AuditEvent.objects.values_list("pk", "action", "summary")) == [
        (event.pk, "customer.update", "kept")
    ]


def test_admin_changelist_filters_by_action_without_scanning_for_choices(client, administrator):
    kept = _event(action="points.adjust")
    _event(action="customer.update")
    client.force_login(administrator)

    response = client.get(reverse("admin:core_auditevent_changelist"), {"action": "points.adjust"})

    assert [e.pk for e in response.context["cl"].result_list] == [kept.pk]


def test_pager_swaps_only_the_results_through_htmx(client, manager):
    AuditEvent.objects.bulk_create(
        AuditEvent(at=T0 + dt.timedelta(seconds=i), action="customer.update")
        for i in range(PAGE_SIZE + 3)
    )
    client.force_login(manager)
    first = client.get(reverse(LIST))

    response = client.get(
        reverse(LIST) + "?" + _older_link(first),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="audit-results",
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="audit-results"') and "<html" not in body
    assert len(_ids(response)) == 3
    assert "HX-Target" in response["Vary"]

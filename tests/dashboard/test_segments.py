"""Segments under /staff/segments/: who sees the pages, saving through the builder (audited,
refused rules write nothing), the live count, freezing into a snapshot, delete, export, the
customer list's segment filter, and query budgets independent of the number of customers."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.analytics.models import CustomerMetrics, Segment, SegmentSnapshot, SnapshotMember
from apps.analytics.services.segments import segment_freeze, segment_save
from apps.core.models import AuditEvent
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CITY = "Shenzhen"
RULES = {"all": [{"field": "customer.city", "op": "eq", "value": CITY}]}
SQL_VALUE = "sh-01'; DROP TABLE customers_customer; --"


def url(name, **kwargs):
    return reverse(f"dashboard:{name}", kwargs=kwargs)


def _matching(n: int, **kwargs) -> list:
    return CustomerFactory.create_batch(n, city=CITY, **kwargs)


def _others(n: int) -> list:
    return CustomerFactory.create_batch(n, city="Beijing")


def _segment(actor=None, rules=None, name="Shenzhen members") -> Segment:
    return segment_save(
        actor=actor, rules=rules or RULES, names={"name_en": name, "name_zh_hans": ""}
    )


def _with_metrics(customers, health: int = 40) -> None:
    now = timezone.now()
    CustomerMetrics.objects.bulk_create(
        CustomerMetrics(
            customer=c,
            as_of=now.date(),
            computed_at=now,
            health_score=health,
            rfm_segment="at_risk",
            churn_band="high",
            churn_risk=0.8,
            predicted_clv="1200.00",
        )
        for c in customers
    )


def _post_body(rules, **over) -> dict:
    body = {
        "name_en": "Shenzhen members",
        "name_zh_hans": "深圳会员",
        "description_en": "Everyone in Shenzhen",
        "description_zh_hans": "",
        "rules": rules if isinstance(rules, str) else json.dumps(rules),
    }
    return {**body, **over}


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


def _sheet(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


def _customer_sql(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "customers_customer" in q["sql"]]


# --- access --------------------------------------------------------------------------------------


def _pages(segment) -> list[str]:
    return [
        url("segment-list"),
        url("segment-create"),
        url("segment-detail", pk=segment.pk),
        url("segment-edit", pk=segment.pk),
    ]


def test_marketer_opens_every_segment_page(client, marketer):
    segment = _segment(marketer)
    client.force_login(marketer)
    for page in _pages(segment):
        response = client.get(page)
        assert response.status_code == 200, page
    listed = client.get(url("segment-list"))
    assert "Shenzhen members" in listed.content.decode()


def test_agent_is_refused_and_anonymous_sent_to_login(client, agent):
    segment = _segment()
    client.force_login(agent)
    for page in _pages(segment):
        assert client.get(page).status_code == 403, page
    assert client.post(url("segment-count"), {"rules": json.dumps(RULES)}).status_code == 403
    assert client.get(url("segment-export", pk=segment.pk)).status_code == 403
    client.logout()
    for page in _pages(segment):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("account_login")), page


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("segment-detail", "get"),
        ("segment-edit", "get"),
        ("segment-export", "get"),
        ("segment-freeze", "post"),
        ("segment-delete", "post"),
    ],
)
def test_unknown_segment_is_not_found(client, marketer, name, method):
    client.force_login(marketer)
    client.raise_request_exception = False
    response = getattr(client, method)(url(name, pk=999999))
    assert response.status_code == 404


# --- create and edit -----------------------------------------------------------------------------


def test_creating_a_segment_saves_audits_and_redirects(client, marketer):
    matching = _matching(3)
    _others(2)
    client.force_login(marketer)
    response = client.post(url("segment-create"), _post_body(RULES))
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("segment-detail", pk=segment.pk)
    assert segment.rules == RULES
    assert segment.name_en == "Shenzhen members" and segment.name_zh_hans == "深圳会员"
    assert segment.description_en == "Everyone in Shenzhen"
    assert segment.created_by == marketer
    assert segment.last_count == len(matching)
    event = AuditEvent.objects.get(action="segment.create")
    assert event.actor == marketer and event.target_id == str(segment.pk)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.context["page_obj"].paginator.count == 3


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        (
            {"all": [{"field": "customer.shoe_size", "op": "eq", "value": 42}]},
            "unknown field customer.shoe_size",
        ),
        (
            {"all": [{"field": "customer.store", "op": "eq", "value": SQL_VALUE}]},
            "is not a code",
        ),
        ("{not json", "Enter a valid JSON."),
    ],
    ids=["unknown-field", "sql-in-code", "bad-json"],
)
def test_invalid_rules_are_refused_and_nothing_is_written(client, marketer, rules, reason):
    client.force_login(marketer)
    response = client.post(url("segment-create"), _post_body(rules))
    assert response.status_code == 400
    assert response.context["form"].errors["rules"]
    assert reason in " ".join(response.context["form"].errors["rules"])
    assert reason in response.content.decode()
    assert not Segment.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_segment_needs_a_name_in_one_language(client, marketer):
    client.force_login(marketer)
    response = client.post(url("segment-create"), _post_body(RULES, name_en="", name_zh_hans="  "))
    assert response.status_code == 400
    assert "A segment needs a name in at least one language." in response.content.decode()
    assert not Segment.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_chinese_name_alone_is_enough(client, marketer):
    client.force_login(marketer)
    response = client.post(url("segment-create"), _post_body(RULES, name_en=""))
    assert response.status_code == 302
    assert Segment.objects.get().name_zh_hans == "深圳会员"


def test_editing_changes_the_rules_and_audits(client, marketer):
    segment = _segment(marketer)
    _matching(2)
    beijing = _others(3)
    client.force_login(marketer)
    form = client.get(url("segment-edit", pk=segment.pk))
    assert form.status_code == 200
    assert json.loads(form.context["form"].rules_json()) == RULES
    new_rules = {"all": [{"field": "customer.city", "op": "eq", "value": "Beijing"}]}
    response = client.post(url("segment-edit", pk=segment.pk), _post_body(new_rules))
    assert response.status_code == 302
    assert response["Location"] == url("segment-detail", pk=segment.pk)
    segment.refresh_from_db()
    assert segment.rules == new_rules and segment.last_count == len(beijing)
    event = AuditEvent.objects.get(action="segment.update")
    assert event.before["rules"] == RULES and event.after["rules"] == new_rules
    assert Segment.objects.count() == 1


def test_a_refused_edit_keeps_the_old_rules(client, marketer):
    segment = _segment(marketer)
    client.force_login(marketer)
    bad = {"all": [{"field": "customer.store", "op": "eq", "value": SQL_VALUE}]}
    response = client.post(url("segment-edit", pk=segment.pk), _post_body(bad))
    assert response.status_code == 400
    segment.refresh_from_db()
    assert segment.rules == RULES
    assert not AuditEvent.objects.filter(action="segment.update").exists()


# --- live count ----------------------------------------------------------------------------------


def test_live_count_gives_the_count_and_a_sample(client, marketer):
    matching = _matching(3)
    _others(2)
    client.force_login(marketer)
    response = client.post(url("segment-count"), {"rules": json.dumps(RULES)})
    assert response.status_code == 200
    assert response.context["error"] == ""
    assert response.context["count"] == 3
    assert [c.pk for c in response.context["sample"]] == sorted(c.pk for c in matching)
    body = response.content.decode()
    assert 'data-testid="live-count"' in body
    for customer in matching:
        assert customer.display_name in body and customer.member_number in body


def test_live_count_of_nothing_is_everyone(client, marketer):
    _matching(2)
    _others(3)
    client.force_login(marketer)
    response = client.post(url("segment-count"), {"rules": json.dumps({"all": []})})
    assert response.context["error"] == "" and response.context["count"] == 5


def test_live_count_of_an_empty_field_is_everyone(client, marketer):
    _matching(2)
    client.force_login(marketer)
    response = client.post(url("segment-count"), {"rules": ""})
    assert response.context["error"] == "" and response.context["count"] == 2


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        (
            json.dumps({"all": [{"field": "customer.shoe_size", "op": "eq", "value": 42}]}),
            "unknown field customer.shoe_size",
        ),
        (
            json.dumps({"any": [{"field": "customer.store", "op": "eq", "value": SQL_VALUE}]}),
            "is not a code",
        ),
        ("{not json", "The rules are not valid JSON."),
    ],
    ids=["unknown-field", "sql-in-code", "bad-json"],
)
def test_live_count_of_invalid_rules_says_why_and_runs_no_query(client, marketer, rules, reason):
    _matching(2)
    client.force_login(marketer)
    client.post(url("segment-count"), {"rules": json.dumps(RULES)})  # warm-up
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url("segment-count"), {"rules": rules})
    assert response.status_code == 200
    assert response.context["count"] is None
    assert reason in response.context["error"]
    body = response.content.decode()
    assert 'data-testid="rules-error"' in body and 'data-testid="live-count"' not in body
    assert _customer_sql(ctx) == []


# --- freeze and delete ---------------------------------------------------------------------------


def test_freeze_copies_who_matches_now(client, marketer):
    matching = _matching(4)
    _others(3)
    CustomerFactory(city=CITY, anonymized_at=timezone.now())  # not live: never frozen
    segment = _segment(marketer)
    client.force_login(marketer)
    response = client.post(url("segment-freeze", pk=segment.pk), {"note": "Spring mailing"})
    assert response.status_code == 302
    assert response["Location"] == url("segment-detail", pk=segment.pk)
    snapshot = SegmentSnapshot.objects.get()
    assert snapshot.segment == segment and snapshot.size == 4
    assert snapshot.taken_by == marketer and snapshot.note == "Spring mailing"
    assert snapshot.rules == RULES
    assert set(SnapshotMember.objects.values_list("customer_id", flat=True)) == {
        c.pk for c in matching
    }
    event = AuditEvent.objects.get(action="segment.freeze")
    assert event.after == {"snapshot": snapshot.pk, "size": 4}
    # Later changes leave the snapshot as it was.
    _matching(2)
    assert SnapshotMember.objects.filter(snapshot=snapshot).count() == 4
    page = client.get(url("segment-detail", pk=segment.pk))
    assert page.context["snapshots"] == [snapshot]


def test_agent_cannot_freeze(client, agent):
    _matching(2)
    segment = _segment()
    client.force_login(agent)
    assert client.post(url("segment-freeze", pk=segment.pk)).status_code == 403
    assert not SegmentSnapshot.objects.exists()
    assert not SnapshotMember.objects.exists()
    assert not AuditEvent.objects.filter(action="segment.freeze").exists()


def test_delete_is_refused_while_a_snapshot_exists(client, marketer):
    _matching(2)
    segment = _segment(marketer)
    segment_freeze(segment=segment, actor=marketer)
    client.force_login(marketer)
    response = client.post(url("segment-delete", pk=segment.pk), follow=True)
    assert "This segment has frozen snapshots and cannot be deleted." in response.content.decode()
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert SegmentSnapshot.objects.count() == 1
    assert not AuditEvent.objects.filter(action="segment.delete").exists()


def test_delete_without_snapshots(client, marketer):
    segment = _segment(marketer)
    client.force_login(marketer)
    response = client.post(url("segment-delete", pk=segment.pk))
    assert response.status_code == 302 and response["Location"] == url("segment-list")
    assert not Segment.objects.exists()
    assert AuditEvent.objects.filter(action="segment.delete").count() == 1


def test_agent_cannot_delete(client, agent):
    segment = _segment()
    client.force_login(agent)
    assert client.post(url("segment-delete", pk=segment.pk)).status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


# --- export --------------------------------------------------------------------------------------


def test_export_csv_holds_the_matching_members_and_is_audited(client, marketer):
    matching = _matching(3)
    others = _others(2)
    _with_metrics(matching[:1])
    segment = _segment(marketer)
    client.force_login(marketer)
    response = client.get(url("segment-export", pk=segment.pk), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][0] == "Member number"
    numbers = [row[0] for row in rows[1:]]
    assert sorted(numbers) == sorted(c.member_number for c in matching)
    assert not {c.member_number for c in others} & set(numbers)
    event = AuditEvent.objects.get(action="export.segment")
    assert event.actor == marketer
    assert event.after["format"] == "csv" and event.after["rows"] == 3
    assert event.after["filters"] == {"segment": segment.pk}


def test_export_xlsx_holds_the_matching_members_and_is_audited(client, marketer):
    matching = _matching(3)
    _others(2)
    segment = _segment(marketer)
    client.force_login(marketer)
    response = client.get(url("segment-export", pk=segment.pk), {"format": "xlsx"})
    assert response.status_code == 200
    ws = _sheet(response)
    values = [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(str(v) for v in values) == sorted(c.member_number for c in matching)
    event = AuditEvent.objects.get(action="export.segment")
    assert event.after["format"] == "xlsx" and event.after["rows"] == 3


# --- the customer list's segment filter ----------------------------------------------------------


def test_customer_list_filters_by_segment(client, marketer):
    matching = _matching(3)
    others = _others(2)
    segment = _segment(marketer)
    client.force_login(marketer)
    response = client.get(url("customer-list"), {"segment": segment.pk})
    assert response.status_code == 200
    assert response.context["segment"] == segment
    shown = {c.pk for c in response.context["page_obj"].object_list}
    assert shown == {c.pk for c in matching}
    body = response.content.decode()
    assert not any(c.member_number in body for c in others)


def test_customer_list_ignores_an_unknown_segment(client, marketer):
    everyone = _matching(2) + _others(2)
    client.force_login(marketer)
    response = client.get(url("customer-list"), {"segment": "999999"})
    assert response.status_code == 200
    assert response.context["segment"] is None
    assert {c.pk for c in response.context["page_obj"].object_list} == {c.pk for c in everyone}


def test_customer_list_ignores_a_segment_for_who_cannot_read_segments(client, agent):
    segment = _segment()
    everyone = _matching(2) + _others(2)
    client.force_login(agent)
    response = client.get(url("customer-list"), {"segment": segment.pk})
    assert response.status_code == 200
    assert response.context["segment"] is None
    assert {c.pk for c in response.context["page_obj"].object_list} == {c.pk for c in everyone}


# --- query budgets -------------------------------------------------------------------------------

# Measured counts (session, user, permissions and the Administration link included).
LIST_BUDGET = 11
DETAIL_BUDGET = 14  # the segment, its customers (count + page, metrics joined), snapshots
BUILDER_BUDGET = 15  # the catalogue's choices: tiers, stores, tags
CUSTOMER_LIST_BUDGET = 16  # the segment filter is a subquery of the list's own query


def test_segment_list_budget(client, marketer, count_queries, django_assert_max_num_queries):
    client.force_login(marketer)
    for i in range(5):
        _segment(marketer, name=f"Segment {i:02d}")
    few = count_queries(client, url("segment-list"))
    for i in range(5, 30):
        _segment(marketer, name=f"Segment {i:02d}")
    assert count_queries(client, url("segment-list")) == few
    with django_assert_max_num_queries(LIST_BUDGET):
        client.get(url("segment-list"))


def test_segment_detail_budget(client, marketer, count_queries, django_assert_max_num_queries):
    segment = _segment(marketer)
    client.force_login(marketer)
    page = url("segment-detail", pk=segment.pk)
    _with_metrics(_matching(5))
    segment_freeze(segment=segment, actor=marketer)
    few = count_queries(client, page)
    _with_metrics(_matching(25))
    segment_freeze(segment=segment, actor=marketer)
    assert count_queries(client, page) == few
    with django_assert_max_num_queries(DETAIL_BUDGET):
        response = client.get(page)
    assert response.context["page_obj"].paginator.count == 30
    assert "1,200" in response.content.decode() or "1200" in response.content.decode()


def test_builder_budget(client, marketer, count_queries, django_assert_max_num_queries):
    segment = _segment(marketer)
    client.force_login(marketer)
    _matching(5)
    new, edit = (
        count_queries(client, url("segment-create")),
        count_queries(client, url("segment-edit", pk=segment.pk)),
    )
    _matching(25)
    assert count_queries(client, url("segment-create")) == new
    assert count_queries(client, url("segment-edit", pk=segment.pk)) == edit
    with django_assert_max_num_queries(BUILDER_BUDGET):
        client.get(url("segment-edit", pk=segment.pk))


def test_customer_list_with_segment_budget(
    client, marketer, count_queries, django_assert_max_num_queries
):
    segment = _segment(marketer)
    client.force_login(marketer)
    page = url("customer-list") + f"?segment={segment.pk}"
    _matching(5)
    _others(5)
    few = count_queries(client, page)
    _matching(25)
    _others(25)
    assert count_queries(client, page) == few
    with django_assert_max_num_queries(CUSTOMER_LIST_BUDGET):
        response = client.get(page)
    assert response.context["page_obj"].paginator.count == 30

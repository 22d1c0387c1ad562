"""The audit trail's reads: diffs, labels, cursors, filters and keyset pages."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone
from django.utils.translation import override

from apps.core.audit import (
    AuditCursor,
    AuditFilters,
    action_label,
    audit_diff,
    audit_list,
    audit_page,
    field_label,
    target_type_label,
)
from apps.core.models import AuditEvent
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _events(spec) -> list[AuditEvent]:
    """Bulk-create events from (at, **fields) tuples; returns them with their ids."""
    return AuditEvent.objects.bulk_create(AuditEvent(at=at, **fields) for at, fields in spec)


# --- diff and labels ------------------------------------------------------------------------


def test_diff_lists_only_changed_keys_with_their_status():
    rows = audit_diff(
        {"balance": 100, "status": "pending", "note": "x", "same": 1},
        {"balance": 150, "status": "pending", "tier": "gold", "same": 1},
    )
    assert [(r.key, r.before, r.after, r.status) for r in rows] == [
        ("balance", "100", "150", "changed"),
        ("tier", None, "gold", "added"),
        ("note", "x", None, "removed"),
    ]


def test_diff_compares_nested_dicts_key_by_key_and_shows_json_values():
    rows = audit_diff(
        None,
        {"format": "csv", "filters": {"q": "wang", "store": ""}, "rows": 3, "truncated": False},
    )
    assert [(r.key, r.before, r.after) for r in rows] == [
        ("format", None, "csv"),
        ("filters.q", None, "wang"),
        ("filters.store", None, ""),
        ("rows", None, "3"),
        ("truncated", None, "false"),
    ]
    assert audit_diff({"a": [1, 2]}, {"a": [1, 2]}) == []
    assert audit_diff(None, None) == []


def test_diff_labels_keys_with_the_target_models_field_names():
    rows = audit_diff(
        {"email": "a@x.org"}, {"email": "b@x.org", "extra": 1}, target_type="customers.customer"
    )
    with override("en"):
        assert [(r.key, r.label) for r in rows] == [("email", "E-mail"), ("extra", "extra")]
    assert field_label("nothing.here", "email") == "email"


def test_action_and_target_labels_translate_known_codes_and_fall_back_to_the_code():
    with override("en"):
        assert action_label("points.adjust") == "Points adjusted"
        assert target_type_label("customers.customer") == "Customer"
    assert action_label("brand.new_thing") == "brand.new_thing"
    assert target_type_label("gone.model") == "gone.model"


# --- cursors --------------------------------------------------------------------------------


def test_cursor_round_trips_to_the_microsecond_and_refuses_garbage():
    at = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert AuditCursor.decode(AuditCursor(at, 42).encode()) == AuditCursor(at, 42)
    for bad in ("", "abc", "12", "1.x", "x.1", "9" * 30 + ".1"):
        assert AuditCursor.decode(bad) is None


# --- filters --------------------------------------------------------------------------------


def test_each_filter_selects_exactly_its_rows(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    ann, bob = UserFactory(email="ann@x.org"), UserFactory(email="bob@x.org")
    # 2026-03-01 23:30 in Shanghai is 15:30 UTC; 2026-03-02 00:30 there is 16:30 UTC.
    e = _events(
        [
            (T0, {"actor": ann, "action": "customer.update", "target_type": "customers.customer", "target_id": "7"}),
            (T0 + dt.timedelta(hours=3, minutes=30), {"actor": bob, "action": "customer.update", "target_type": "customers.customer", "target_id": "8"}),
            (T0 + dt.timedelta(hours=4, minutes=30), {"actor": ann, "action": "points.adjust", "target_type": "loyalty.loyaltyaccount", "target_id": "7"}),
            (T0 + dt.timedelta(days=3), {"actor": None, "actor_label": "system", "action": "tier.downgrade", "target_type": "loyalty.loyaltyaccount", "target_id": "9"}),
        ]
    )  # fmt: skip

    def ids(**kw):
        return [x.pk for x in audit_list(filters=AuditFilters(**kw))]

    assert ids() == [e[3].pk, e[2].pk, e[1].pk, e[0].pk]
    assert ids(actor_id=ann.pk) == [e[2].pk, e[0].pk]
    assert ids(action="customer.update") == [e[1].pk, e[0].pk]
    assert ids(target_type="loyalty.loyaltyaccount") == [e[3].pk, e[2].pk]
    assert ids(target_type="customers.customer", target_id="7") == [e[0].pk]
    assert ids(date_to=dt.date(2026, 3, 1)) == [e[1].pk, e[0].pk]
    assert ids(date_from=dt.date(2026, 3, 2), date_to=dt.date(2026, 3, 2)) == [e[2].pk]
    assert ids(date_from=dt.date(2026, 3, 4)) == [e[3].pk]
    assert ids(actor_id=ann.pk, action="customer.update", date_to=dt.date(2026, 3, 1)) == [e[0].pk]


# --- keyset pages ---------------------------------------------------------------------------


def _walk_older(filters: AuditFilters, size: int) -> list[list[int]]:
    pages, cursor = [], ""
    while True:
        page = audit_page(filters=filters, older_than=cursor, size=size)
        pages.append([e.pk for e in page.events])
        if not page.older:
            return pages
        cursor = page.older


def test_keyset_pages_are_complete_and_stable_with_equal_timestamps():
    # 23 events on 3 timestamps only, created out of time order: only the id breaks ties.
    spec = [(T0 + dt.timedelta(seconds=(i * 7) % 3), {"action": "a.b"}) for i in range(23)]
    made = _events(spec)
    expected = [e.pk for e in sorted(made, key=lambda e: (e.at, e.pk), reverse=True)]

    pages = _walk_older(AuditFilters(), size=5)

    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [pk for p in pages for pk in p] == expected


def test_newer_link_returns_exactly_the_previous_page():
    made = _events([(T0 + dt.timedelta(seconds=i // 4), {"action": "a.b"}) for i in range(17)])
    assert len(made) == 17
    pages = []
    page = audit_page(filters=AuditFilters(), size=4)
    while True:
        pages.append(page)
        if not page.older:
            break
        page = audit_page(filters=AuditFilters(), older_than=page.older, size=4)

    for previous, current in itertools.pairwise(pages):
        back = audit_page(filters=AuditFilters(), newer_than=current.newer, size=4)
        assert [e.pk for e in back.events] == [e.pk for e in previous.events]
    assert pages[0].is_first and not pages[0].newer
    assert not pages[1].is_first and pages[1].newer
    # Back to the start from page 2 is the first page, whole, with no "newer" link.
    start = audit_page(filters=AuditFilters(), newer_than=pages[1].newer, size=4)
    assert start.is_first and not start.newer


def test_keyset_pages_respect_filters():
    made = _events(
        [(T0 + dt.timedelta(minutes=i), {"action": "x.y" if i % 3 else "a.b"}) for i in range(20)]
    )
    expected = [e.pk for e in reversed(made) if e.action == "a.b"]

    pages = _walk_older(AuditFilters(action="a.b"), size=3)

    assert [pk for p in pages for pk in p] == expected
    assert [len(p) for p in pages] == [3, 3, 1]


def test_a_stale_cursor_past_the_end_gives_an_empty_page_that_leads_back():
    made = _events([(T0 + dt.timedelta(minutes=i), {"action": "a.b"}) for i in range(6)])
    oldest = min(made, key=lambda e: e.at)

    page = audit_page(filters=AuditFilters(), older_than=AuditCursor.of(oldest).encode(), size=4)

    assert page.events == [] and not page.older and not page.is_first
    back = audit_page(filters=AuditFilters(), newer_than=page.newer, size=4)
    # The page that ends at the cursor's row: the four oldest, newest first.
    oldest_four = sorted(made, key=lambda e: e.at)[:4]
    assert [e.pk for e in back.events] == [e.pk for e in reversed(oldest_four)]
    assert back.newer


def test_equal_timestamps_across_a_page_boundary_neither_repeat_nor_vanish():
    at = timezone.now().replace(microsecond=0)
    made = _events([(at, {"action": "a.b"}) for _ in range(10)])

    pages = _walk_older(AuditFilters(), size=4)

    assert [pk for p in pages for pk in p] == sorted((e.pk for e in made), reverse=True)

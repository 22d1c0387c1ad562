"""bulk_insert / bulk_update_fields: the same rows as bulk_create / bulk_update, on PostgreSQL
through unnest arrays (constant SQL), elsewhere through bulk_create and one executemany UPDATE."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.db import bulk_insert, bulk_update_fields
from apps.core.models import AuditEvent
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _events(n: int, actor=None) -> list[AuditEvent]:
    at = timezone.now().replace(microsecond=0)
    return [
        AuditEvent(
            actor=actor if i % 2 else None,
            action=f"test.{i}",
            at=at - dt.timedelta(minutes=i),
            summary=f'row {i} ‘quoted’ , {{braces}} "x"' if i % 3 else "",
            before={"n": i, "tags": ["a", "b"]} if i % 2 else None,
            after={"text": "中文"},
        )
        for i in range(n)
    ]


def test_bulk_insert_writes_every_field_and_sets_primary_keys():
    actor = UserFactory()
    objs = _events(7, actor)
    bulk_insert(AuditEvent, objs, set_pks=True)
    assert all(o.pk for o in objs) and len({o.pk for o in objs}) == 7
    for obj in objs:
        row = AuditEvent.objects.get(pk=obj.pk)
        assert (row.actor_id, row.action, row.at, row.summary, row.before, row.after) == (
            obj.actor_id,
            obj.action,
            obj.at,
            obj.summary,
            obj.before,
            obj.after,
        )


def test_bulk_insert_of_nothing_runs_no_query():
    with CaptureQueriesContext(connection) as queries:
        bulk_insert(AuditEvent, [])
    assert len(queries) == 0


@pytest.mark.postgres
def test_bulk_insert_is_one_statement_whatever_the_size():
    with CaptureQueriesContext(connection) as small:
        bulk_insert(AuditEvent, _events(3))
    with CaptureQueriesContext(connection) as large:
        bulk_insert(AuditEvent, _events(500))
    assert len(small) == len(large) == 1
    assert small[0]["sql"].split("unnest")[0] == large[0]["sql"].split("unnest")[0]
    assert AuditEvent.objects.count() == 503


def test_bulk_update_fields_writes_only_the_named_fields():
    objs = _events(5)
    bulk_insert(AuditEvent, objs, set_pks=True)
    for i, obj in enumerate(objs):
        obj.summary = f"changed {i}"
        obj.after = {"changed": i}
        obj.action = "not written"
    bulk_update_fields(AuditEvent, objs, ["summary", "after"])
    rows = {r.pk: r for r in AuditEvent.objects.all()}
    for i, obj in enumerate(objs):
        assert rows[obj.pk].summary == f"changed {i}"
        assert rows[obj.pk].after == {"changed": i}
        assert rows[obj.pk].action == f"test.{i}"

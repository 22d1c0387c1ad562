"""bulk_update_rows: plain values to many rows in one statement (PostgreSQL: unnest of array
literals), the same rows as an UPDATE per row would write."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.db import bulk_insert, bulk_update_rows
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db

AWKWARD = ['a "quoted" {brace}, comma', "back\\slash", "NULL", "", "中文", "tab\there"]


def _saved(n: int) -> list[AuditEvent]:
    at = timezone.now().replace(microsecond=0)
    objs = [AuditEvent(action=f"test.{i}", at=at, summary="before") for i in range(n)]
    bulk_insert(AuditEvent, objs, set_pks=True)
    return objs


def test_writes_each_rows_values_and_the_shared_ones_only_to_those_rows():
    objs = _saved(len(AWKWARD) + 1)
    later = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)
    rows = [
        (obj.pk, text, str(i)) for i, (obj, text) in enumerate(zip(objs[:-1], AWKWARD, strict=True))
    ]

    bulk_update_rows(AuditEvent, ["summary", "target_id"], rows, same={"at": later})

    found = {e.pk: (e.summary, e.target_id, e.at, e.action) for e in AuditEvent.objects.all()}
    for i, (obj, text) in enumerate(zip(objs[:-1], AWKWARD, strict=True)):
        assert found[obj.pk] == (text, str(i), later, f"test.{i}")
    untouched = objs[-1]
    assert found[untouched.pk] == ("before", "", untouched.at, untouched.action)


def test_datetimes_per_row_go_through_as_well():
    objs = _saved(3)
    base = timezone.now().replace(microsecond=0)
    bulk_update_rows(
        AuditEvent, ["at"], [(o.pk, base - dt.timedelta(hours=i)) for i, o in enumerate(objs)]
    )
    assert [AuditEvent.objects.get(pk=o.pk).at for o in objs] == [
        base - dt.timedelta(hours=i) for i in range(3)
    ]


def test_nothing_to_write_runs_no_query():
    with CaptureQueriesContext(connection) as queries:
        bulk_update_rows(AuditEvent, ["summary"], [])
    assert len(queries) == 0


@pytest.mark.postgres
def test_one_statement_whatever_the_number_of_rows():
    objs = _saved(300)
    with CaptureQueriesContext(connection) as small:
        bulk_update_rows(AuditEvent, ["summary"], [(o.pk, "x") for o in objs[:2]])
    with CaptureQueriesContext(connection) as large:
        bulk_update_rows(AuditEvent, ["summary"], [(o.pk, "y") for o in objs])
    assert len(small) == len(large) == 1
    assert small[0]["sql"].split("FROM")[0] == large[0]["sql"].split("FROM")[0]
    assert set(AuditEvent.objects.values_list("summary", flat=True)) == {"y"}

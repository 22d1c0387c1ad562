"""Daily KPI snapshots (apps/analytics/services/kpi.py): once per (day, scope) whatever runs them,
the figures of ``kpi_values``, a back-fill by command, the nightly task, and a day that has not
ended refused."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.analytics.kpis import Scope, Window, kpi_values
from apps.analytics.models import KPISnapshot
from apps.analytics.services.kpi import kpi_scopes, kpi_snapshot_range, kpi_snapshot_take
from apps.analytics.tasks import kpi_snapshot
from tests.concurrency import outcome_kinds, run_concurrently
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.loyalty.factories import TierFactory

YESTERDAY = timezone.localdate() - dt.timedelta(days=1)


def _shop():
    store = StoreFactory(code="north")
    TierFactory(slug="silver", rank=1)
    for i in range(3):
        customer = CustomerFactory(store=store)
        OrderFactory(
            customer=customer,
            store=store,
            total=Decimal(50 * (i + 1)),
            placed_at=timezone.now() - dt.timedelta(days=2),
        )
    return store


@pytest.mark.django_db
def test_a_day_is_taken_for_every_scope_with_the_figures_of_kpi_values():
    store = _shop()
    run = kpi_snapshot_take(day=YESTERDAY)
    scopes = [s.key for s in kpi_scopes()]
    assert "all" in scopes and f"store:{store.pk}" in scopes and len(scopes) == 3
    assert (run.written, run.skipped) == (3, 0)
    row = KPISnapshot.objects.get(day=YESTERDAY, scope="all")
    assert row.values == kpi_values(window=Window(YESTERDAY))
    assert row.values["orders"] == 3 and row.values["revenue"] == 300.0
    assert row.window_days == 30
    by_store = KPISnapshot.objects.get(day=YESTERDAY, scope=f"store:{store.pk}")
    assert by_store.values == kpi_values(window=Window(YESTERDAY), scope=Scope(store_id=store.pk))


@pytest.mark.django_db
def test_a_second_run_leaves_the_day_as_it_was_unless_forced():
    store = _shop()
    kpi_snapshot_take(day=YESTERDAY)
    first = KPISnapshot.objects.get(day=YESTERDAY, scope="all")
    OrderFactory(store=store, placed_at=timezone.now() - dt.timedelta(days=2), total=Decimal(1000))
    again = kpi_snapshot_take(day=YESTERDAY)
    assert (again.written, again.skipped) == (0, 3)
    assert KPISnapshot.objects.get(pk=first.pk).values == first.values
    forced = kpi_snapshot_take(day=YESTERDAY, force=True)
    assert forced.written == 3 and KPISnapshot.objects.filter(day=YESTERDAY).count() == 3
    assert KPISnapshot.objects.get(day=YESTERDAY, scope="all").values["orders"] == 4


@pytest.mark.django_db
def test_today_has_not_ended_and_is_refused():
    with pytest.raises(ValueError, match="not ended"):
        kpi_snapshot_take(day=timezone.localdate())
    assert not KPISnapshot.objects.exists()


@pytest.mark.django_db
def test_the_command_back_fills_a_range_and_refuses_bad_dates(capsys):
    _shop()
    first = YESTERDAY - dt.timedelta(days=4)
    call_command("kpi_snapshot", "--from", first.isoformat(), "--to", YESTERDAY.isoformat())
    assert "15 written, 0 already taken" in capsys.readouterr().out
    assert sorted(set(KPISnapshot.objects.values_list("day", flat=True))) == [
        first + dt.timedelta(days=k) for k in range(5)
    ]
    call_command("kpi_snapshot")  # yesterday again: already taken
    assert "0 written, 3 already taken" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a date"):
        call_command("kpi_snapshot", "--from", "31/03/2026")
    with pytest.raises(CommandError, match="has not ended yet"):
        call_command("kpi_snapshot", "--to", timezone.localdate().isoformat())
    with pytest.raises(CommandError, match="comes before"):
        call_command("kpi_snapshot", "--from", YESTERDAY.isoformat(), "--to", first.isoformat())
    with pytest.raises(ValueError, match="at most"):
        kpi_snapshot_range(first=YESTERDAY - dt.timedelta(days=5000), last=YESTERDAY)


@pytest.mark.django_db
def test_the_nightly_task_takes_yesterday_once():
    _shop()
    assert kpi_snapshot.apply().get() == {
        "day": YESTERDAY.isoformat(),
        "written": 3,
        "skipped": 0,
    }
    assert kpi_snapshot.apply().get()["skipped"] == 3
    assert KPISnapshot.objects.filter(day=YESTERDAY).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_runs_at_the_same_time_leave_one_row_per_day_and_scope():
    """Beat fired twice and a back-fill beside it: eight runs of the same day on real threads."""
    _shop()

    outcomes = run_concurrently(8, lambda i: kpi_snapshot_take(day=YESTERDAY), workers=8)

    assert outcome_kinds(outcomes) == {"ok": 8}
    runs = [value for _kind, value in outcomes]
    assert sum(r.written for r in runs) == 3  # each scope written by exactly one run
    assert sum(r.skipped for r in runs) == 8 * 3 - 3
    assert KPISnapshot.objects.filter(day=YESTERDAY).count() == 3
    assert KPISnapshot.objects.get(day=YESTERDAY, scope="all").values["orders"] == 3

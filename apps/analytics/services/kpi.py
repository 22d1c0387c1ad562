"""Daily KPI snapshots: the KPIs as of each day for the whole programme, each store and each
tier, so the dashboard's trends read one narrow table instead of the orders.

Exactly once per (day, scope): rows are inserted with ``get_or_create`` on the unique (day, scope)
key, so two runs at once (beat twice, a back-fill beside the nightly job) leave one row each and
the same figures; ``force`` recomputes days already taken (after a correction to history)."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from apps.customers.models import Store
from apps.loyalty.models import Tier

from ..kpis import DEFAULT_WINDOW, Scope, Window, kpi_values
from ..models import KPISnapshot

MAX_BACKFILL_DAYS = 3 * 366


@dataclass(frozen=True)
class SnapshotRun:
    days: int
    written: int
    skipped: int


def kpi_scopes() -> list[Scope]:
    """The scopes a snapshot is taken for: the programme, every active store, every tier."""
    stores = Store.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    tiers = Tier.objects.order_by("rank").values_list("pk", flat=True)
    return [Scope(), *(Scope(store_id=s) for s in stores), *(Scope(tier_id=t) for t in tiers)]


def kpi_snapshot_take(
    *, day: dt.date, force: bool = False, scopes: list[Scope] | None = None
) -> SnapshotRun:
    """The snapshots of ``day`` (one per scope, every scope by default); days already taken are
    left as they are unless ``force``. A day that has not ended yet is refused: its figures would
    still move."""
    if day >= timezone.localdate():
        raise ValueError(f"{day} has not ended yet")
    scopes = kpi_scopes() if scopes is None else scopes
    taken = set(KPISnapshot.objects.filter(day=day).values_list("scope", flat=True))
    written = skipped = 0
    for scope in scopes:
        if scope.key in taken and not force:
            skipped += 1
            continue
        values = kpi_values(window=Window(day, DEFAULT_WINDOW), scope=scope)
        fields = {"window_days": DEFAULT_WINDOW, "values": values}
        if force:
            KPISnapshot.objects.update_or_create(day=day, scope=scope.key, defaults=fields)
            written += 1
            continue
        # get_or_create: a run that loses the race to the unique key reads the winner's row.
        _row, created = KPISnapshot.objects.get_or_create(day=day, scope=scope.key, defaults=fields)
        written, skipped = written + created, skipped + (not created)
    return SnapshotRun(days=1, written=written, skipped=skipped)


def kpi_snapshot_range(
    *, first: dt.date, last: dt.date, force: bool = False, scopes: list[Scope] | None = None
) -> SnapshotRun:
    """Snapshots for every day from ``first`` to ``last`` (a back-fill), oldest first."""
    if last < first:
        raise ValueError("the last day comes before the first")
    if (last - first).days >= MAX_BACKFILL_DAYS:
        raise ValueError(f"at most {MAX_BACKFILL_DAYS} days at a time")
    written = skipped = 0
    day = first
    while day <= last:
        run = kpi_snapshot_take(day=day, force=force, scopes=scopes)
        written, skipped = written + run.written, skipped + run.skipped
        day += dt.timedelta(days=1)
    return SnapshotRun(days=(last - first).days + 1, written=written, skipped=skipped)

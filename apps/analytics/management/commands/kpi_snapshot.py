"""``manage.py kpi_snapshot [--from DATE --to DATE] [--force]``: daily KPI snapshots, idempotent
per day: yesterday by default, or a back-fill of past days."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.analytics.services.kpi import kpi_snapshot_range


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = "Take the daily KPI snapshots (yesterday by default, or every day from --from to --to)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", help="First day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="last", help="Last day (default: yesterday).")
        parser.add_argument("--force", action="store_true", help="Recompute days already taken.")

    def handle(self, *args, **options):
        yesterday = timezone.localdate() - dt.timedelta(days=1)
        last = _date("--to", options["last"]) if options["last"] else yesterday
        first = _date("--from", options["first"]) if options["first"] else last
        if last > yesterday:
            raise CommandError(
                f"--to: {last} has not ended yet (the last full day is {yesterday})."
            )
        try:
            run = kpi_snapshot_range(first=first, last=last, force=options["force"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"KPI snapshots {first} to {last}: {run.written} written, {run.skipped} already taken."
        )

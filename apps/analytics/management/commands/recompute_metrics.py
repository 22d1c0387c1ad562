"""``manage.py recompute_metrics [--as-of DATE]``: every customer's metrics as of a date."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from apps.analytics.exceptions import NotEnoughHistory
from apps.analytics.services.metrics import metrics_recompute


def as_of_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of: {value!r} is not a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = "Recompute customer metrics (RFM, CLV, churn risk, health) from orders up to a date."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="Last day of orders to use (default: yesterday).")

    def handle(self, *args, **options):
        as_of = as_of_date(options["as_of"]) if options["as_of"] else None
        try:
            done = metrics_recompute(as_of=as_of)
        except NotEnoughHistory as exc:
            raise CommandError(exc.message) from exc
        churn = done.fit.churn or {}
        self.stdout.write(
            f"Metrics as of {done.as_of}: {done.customers} customers, {done.buyers} with orders, "
            f"in {done.seconds:.1f} s."
        )
        if "auc" in churn:
            self.stdout.write(
                f"Churn model: back-test AUC {churn['auc']:.3f} "
                f"(BG/NBD expected purchases: {churn['baseline_auc']:.3f})."
            )
        else:
            self.stdout.write(f"Churn model: not fitted ({churn.get('refused', '')}).")

"""``manage.py customer_value --as-of DATE [--horizon-days N] --json [--scores FILE]``.

Fits BG/NBD, Gamma-Gamma and the churn model on the orders up to DATE and prints the JSON of
DESIGN §6; ``--scores`` writes one CSV row per customer. Nothing is stored."""

import csv
import json

from django.core.management.base import BaseCommand, CommandError

from apps.analytics.exceptions import NotEnoughHistory
from apps.analytics.models import AnalyticsSettings
from apps.analytics.services.value import value_fit, value_report
from apps.customers.models import Customer

from .recompute_metrics import as_of_date

SCORE_COLUMNS = [
    "member_number",
    "frequency",
    "recency",
    "T",
    "monetary",
    "expected_purchases",
    "p_alive",
    "churn_risk",
    "predicted_clv",
]


class Command(BaseCommand):
    help = "Fit the customer-value models on orders up to a date and report them."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", required=True, help="Last day of orders (YYYY-MM-DD).")
        parser.add_argument(
            "--horizon-days",
            type=int,
            default=None,
            help="Forecast window for expected purchases (default: the settings' churn horizon).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--scores", help="Write per-customer scores to this CSV file.")

    def handle(self, *args, **options):
        as_of = as_of_date(options["as_of"])
        config = AnalyticsSettings.get()
        horizon = options["horizon_days"] or config.horizon_days
        if not 1 <= horizon <= 3650:
            raise CommandError("--horizon-days must be between 1 and 3650.")
        try:
            fit = value_fit(
                as_of=as_of,
                horizon_days=horizon,
                clv_months=config.clv_months,
                discount_rate=float(config.discount_rate),
                churn_horizon_days=config.horizon_days,
            )
        except NotEnoughHistory as exc:
            raise CommandError(exc.message) from exc
        report = value_report(fit)
        if options["scores"]:
            self._scores(fit, options["scores"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            bg = report["bgnbd"]
            self.stdout.write(
                f"{report['customers']} customers as of {as_of}; BG/NBD r={bg['r']:.3f} "
                f"alpha={bg['alpha']:.3f} a={bg['a']:.3f} b={bg['b']:.3f}; expected repeat "
                f"purchases in {horizon} days: {report['expected_repeat_purchases']:.1f}"
            )

    def _scores(self, fit, path: str) -> None:
        s = fit.summary
        numbers = dict(
            Customer.objects.filter(pk__in=s.customer_ids.tolist()).values_list(
                "pk", "member_number"
            )
        )
        with open(path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(SCORE_COLUMNS)
            for i, cid in enumerate(s.customer_ids.tolist()):
                out.writerow(
                    [
                        numbers.get(cid, ""),
                        int(s.frequency[i]),
                        round(float(s.recency_weeks[i]), 4),
                        round(float(s.age_weeks[i]), 4),
                        round(float(s.monetary[i]), 2),
                        round(float(fit.expected[i]), 6),
                        round(float(fit.p_alive[i]), 6),
                        round(float(fit.churn_risk[i]), 6),
                        round(float(fit.clv[i]), 2),
                    ]
                )

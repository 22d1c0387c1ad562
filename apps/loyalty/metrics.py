"""The ledger verification's figures for ``/metrics`` (registered in ``LoyaltyConfig.ready``
through ``apps.core.metrics.collector_register``): whether the newest finished run found the
ledger intact, when it finished, and how many faults it found."""

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from .models import LedgerVerification


def ledger_verification_metrics() -> Iterable[Metric]:
    run = LedgerVerification.objects.filter(finished_at__isnull=False).first()
    if run is None:
        return []
    return [
        GaugeMetricFamily(
            "clientele_ledger_verification_ok",
            "1 when the newest finished ledger verification found no fault, else 0.",
            value=1 if run.ok else 0,
        ),
        GaugeMetricFamily(
            "clientele_ledger_verification_finished_timestamp_seconds",
            "Unix time the newest ledger verification finished.",
            value=run.finished_at.timestamp(),
        ),
        GaugeMetricFamily(
            "clientele_ledger_verification_faults",
            "Faults the newest finished ledger verification found.",
            value=run.fault_count,
        ),
    ]

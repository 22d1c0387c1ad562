"""Customer value in "download my data", erasure and merging.

The scores are derived from the member's orders, and profiling is personal data: the export
lists them with their reasons; erasure deletes them and the member's at-risk entries and
snapshot memberships (a campaign's frozen list no longer names an erased member); a merge
drops the source's rows, since the survivor's are recomputed from the merged orders tonight."""

from typing import Any

from apps.customers.models import Customer

from .models import AtRiskEntry, CustomerMetrics, SnapshotMember
from .wording import reasons_text


def _day(value) -> str | None:
    return value.isoformat() if value else None


def export_metrics(*, customer: Customer) -> list[dict]:
    metrics = CustomerMetrics.objects.filter(customer=customer).first()
    if metrics is None:
        return []
    return [
        {
            "as_of": metrics.as_of.isoformat(),
            "computed_at": metrics.computed_at.isoformat(),
            "first_order_on": _day(metrics.first_order_on),
            "last_order_on": _day(metrics.last_order_on),
            "orders": metrics.orders,
            "recency_days": metrics.recency_days,
            "frequency": metrics.frequency,
            "monetary": str(metrics.monetary),
            "rfm": [metrics.r_score, metrics.f_score, metrics.m_score],
            "rfm_segment": metrics.rfm_segment,
            "rfm_segment_label": str(metrics.get_rfm_segment_display()),
            "p_alive": metrics.p_alive,
            "predicted_clv": str(metrics.predicted_clv) if metrics.predicted_clv else None,
            "churn_risk": metrics.churn_risk,
            "churn_band": metrics.churn_band,
            "band_since": _day(metrics.band_since),
            "health_score": metrics.health_score,
            "reasons": reasons_text(metrics.reasons),
        }
    ]


def export_at_risk(*, customer: Customer) -> list[dict]:
    return [
        {
            "week": e.week.isoformat(),
            "churn_risk": e.churn_risk,
            "reasons": reasons_text(e.reasons),
            "action": e.action,
            "action_label": str(e.get_action_display()),
        }
        for e in AtRiskEntry.objects.filter(customer=customer).order_by("week")
    ]


def erase(*, customer: Customer) -> None:
    CustomerMetrics.objects.filter(customer=customer).delete()
    AtRiskEntry.objects.filter(customer=customer).delete()
    SnapshotMember.objects.filter(customer=customer).delete()


def merge(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    metrics, _ = CustomerMetrics.objects.filter(customer=source).delete()
    entries, _ = AtRiskEntry.objects.filter(customer=source).delete()
    return {"customer_metrics": metrics, "at_risk_entries": entries}

"""Reads of customer value: metrics, the latest model fit, segments, the at-risk list."""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from apps.customers.enums import OrderStatus
from apps.customers.models import Customer, Order

from .exceptions import SegmentNotFound
from .models import AtRiskEntry, CustomerMetrics, ModelFit, Segment
from .summary import day_start


def metrics_for(*, customer: Customer) -> CustomerMetrics | None:
    return CustomerMetrics.objects.filter(customer=customer).select_related("fit").first()


def fit_latest() -> ModelFit | None:
    return ModelFit.objects.order_by("-fitted_at", "-pk").first()


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name", "pk")


def segment_get(*, pk: int) -> Segment:
    segment = Segment.objects.filter(pk=pk).first()
    if segment is None:
        raise SegmentNotFound()
    return segment


def at_risk_weeks(limit: int = 12) -> list[dt.date]:
    return list(
        AtRiskEntry.objects.order_by("-week").values_list("week", flat=True).distinct()[:limit]
    )


def at_risk_list(*, week: dt.date) -> QuerySet[AtRiskEntry]:
    """The week's entries, each with ``came_back``: a paid order since the week began."""
    since = Order.objects.filter(
        customer=OuterRef("customer_id"), placed_at__gte=day_start(week)
    ).exclude(status=OrderStatus.REFUNDED)
    return (
        AtRiskEntry.objects.filter(week=week)
        .select_related("customer", "assigned_to")
        .annotate(came_back=Exists(since))
        .order_by("-predicted_clv", "pk")
    )


def at_risk_returns(*, weeks: list[dt.date]) -> dict[dt.date, tuple[int, int]]:
    """Per week: (customers on the list, of them bought again since)."""
    out = {}
    for week in weeks:
        entries = at_risk_list(week=week)
        out[week] = (entries.count(), entries.filter(came_back=True).count())
    return out


def week_label(week: dt.date) -> str:
    return _("Week of %(day)s") % {"day": week.isoformat()}


def metrics_distribution() -> dict[str, dict[str, int]]:
    """How many customers sit in each RFM segment and churn band."""
    rows = CustomerMetrics.objects.values_list("rfm_segment", "churn_band").annotate(n=Count("pk"))
    segments: dict[str, int] = {}
    bands: dict[str, int] = {}
    for segment, band, n in rows:
        segments[segment] = segments.get(segment, 0) + n
        bands[band] = bands.get(band, 0) + n
    return {"segments": segments, "bands": bands}


def segment_list_largest(*, limit: int = 5) -> list[Segment]:
    """The segments with the most customers at their last count (never counted ones left out)."""
    return list(
        Segment.objects.filter(last_count__isnull=False).order_by("-last_count", "name", "pk")[
            :limit
        ]
    )


def segment_list_recently_counted(*, limit: int = 5) -> list[Segment]:
    """The segments counted most recently: what colleagues are working on."""
    return list(
        Segment.objects.filter(counted_at__isnull=False).order_by("-counted_at", "-pk")[:limit]
    )

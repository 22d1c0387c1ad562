"""Reads of the scheduled reports: subscriptions and their deliveries."""

from django.db.models import OuterRef, QuerySet, Subquery

from .models import ReportDelivery, ReportSubscription


def report_subscription_list() -> QuerySet[ReportSubscription]:
    """Every subscription with its role, author and its latest delivery's status and period
    (``latest_status``, ``latest_period``): one query for the whole list."""
    latest = ReportDelivery.objects.filter(subscription=OuterRef("pk")).order_by(
        "-started_at", "-pk"
    )
    return (
        ReportSubscription.objects.select_related("role", "created_by")
        .annotate(
            latest_status=Subquery(latest.values("status")[:1]),
            latest_period=Subquery(latest.values("period")[:1]),
        )
        .order_by("report", "pk")
    )


def report_subscription_get(*, pk: int) -> ReportSubscription | None:
    return ReportSubscription.objects.select_related("role").filter(pk=pk).first()

"""The campaign list's reads: campaigns by kind and status, newest first, and the cheap figures
the list shows for a page (or an export's chunk) of them — a fixed number of queries whatever
their number."""

import datetime as dt

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from apps.customers.enums import OrderStatus
from apps.customers.models import Order

from .enums import MessageStatus
from .models import Campaign, CampaignSettings, Message


def campaign_list(*, kind: str = "", status: str = "") -> QuerySet[Campaign]:
    qs = Campaign.objects.select_related("segment").order_by("-created_at", "-pk")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def campaign_figures(*, campaigns: list[Campaign]) -> dict[int, dict]:
    """Per campaign: messages placed and reached, and the conversions of the treated and the
    holdout — two grouped queries for a whole page of campaigns. Treated and holdout as in
    ``apps.campaigns.results`` (everyone drawn into a variant; everyone held out), a conversion
    an order not fully refunded within the window after the message (after placement when
    never sent)."""
    campaign_ids = [c.pk for c in campaigns]
    keys = ("placed", "reached", "treated", "treated_conv", "holdout", "holdout_conv")
    figures = {pk: dict.fromkeys(keys, 0) for pk in campaign_ids}
    if not campaign_ids:
        return figures
    reached = Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED])
    for row in (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(placed=Count("pk"), reached=Count("pk", filter=reached))
    ):
        figures[row["campaign_id"]].update(placed=row["placed"], reached=row["reached"])
    default = CampaignSettings.get().conversion_days
    by_window: dict[int, list[int]] = {}
    for c in campaigns:
        by_window.setdefault(c.conversion_days or default, []).append(c.pk)
    # The window as a constant per campaign (a few distinct values a page): portable SQL, where
    # days × interval is not (SQLite).
    window = Case(
        *(
            When(campaign_id__in=ids, then=Value(dt.timedelta(days=days)))
            for days, ids in by_window.items()
        ),
        output_field=DurationField(),
    )
    converted = Exists(
        Order.objects.filter(
            customer_id=OuterRef("customer_id"),
            placed_at__gte=OuterRef("base"),
            placed_at__lt=OuterRef("until"),
        ).exclude(status=OrderStatus.REFUNDED)
    )
    rows = (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .filter(Q(variant__isnull=False) | Q(status=MessageStatus.HOLDOUT))
        .annotate(
            base=Coalesce("sent_at", "created_at", output_field=DateTimeField()),
            window=window,
        )
        .annotate(until=ExpressionWrapper(F("base") + F("window"), DateTimeField()))
        .annotate(
            converted=converted,
            held=Case(
                When(status=MessageStatus.HOLDOUT, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .values("campaign_id", "held")
        .annotate(members=Count("pk"), conversions=Count("pk", filter=Q(converted=True)))
    )
    for row in rows:
        group = "holdout" if row["held"] else "treated"
        figures[row["campaign_id"]][group] = row["members"]
        figures[row["campaign_id"]][f"{group}_conv"] = row["conversions"]
    for values in figures.values():
        for group in ("treated", "holdout"):
            n = values[group]
            values[f"{group}_rate"] = values[f"{group}_conv"] * 100 / n if n else None
        both = values["treated_rate"] is not None and values["holdout_rate"] is not None
        values["uplift"] = values["treated_rate"] - values["holdout_rate"] if both else None
    return figures

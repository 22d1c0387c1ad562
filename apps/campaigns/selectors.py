"""Reads of campaigns for the staff pages: what is live now and how far each send has got."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, F, IntegerField, Q, Value, When

from .enums import CampaignKind, CampaignStatus
from .models import Campaign, Message

LIVE_STATUSES = (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED)


@dataclass(frozen=True)
class LiveCounts:
    sending: int  # broadcasts running now
    scheduled: int  # broadcasts waiting for their time
    journeys: int  # journeys running (they send whenever their trigger fires)
    paused: int


def campaign_live_counts() -> LiveCounts:
    """How many campaigns are sending, scheduled, running as journeys and paused (one query)."""
    broadcast, journey = Q(kind=CampaignKind.BROADCAST), Q(kind=CampaignKind.TRIGGERED)
    running = Q(status=CampaignStatus.RUNNING)
    counts = Campaign.objects.filter(status__in=LIVE_STATUSES).aggregate(
        sending=Count("pk", filter=broadcast & running),
        scheduled=Count("pk", filter=Q(status=CampaignStatus.SCHEDULED)),
        journeys=Count("pk", filter=journey & running),
        paused=Count("pk", filter=Q(status=CampaignStatus.PAUSED)),
    )
    return LiveCounts(**counts)


def campaign_list_live(*, limit: int = 8) -> list[Campaign]:
    """Campaigns that are live, most pressing first: broadcasts sending now, then scheduled ones
    by their time, then running journeys, then paused campaigns (one query)."""
    rank = Case(
        When(status=CampaignStatus.RUNNING, kind=CampaignKind.BROADCAST, then=Value(0)),
        When(status=CampaignStatus.SCHEDULED, then=Value(1)),
        When(status=CampaignStatus.RUNNING, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return list(
        Campaign.objects.filter(status__in=LIVE_STATUSES)
        .select_related("segment")
        .annotate(rank=rank)
        .order_by(
            "rank",
            F("scheduled_at").asc(nulls_last=True),
            F("started_at").desc(nulls_last=True),
            "-pk",
        )[:limit]
    )


def campaign_message_counts(*, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages per status for each campaign (one grouped query for them all); a campaign with
    no message yet maps to ``{}``."""
    counts: dict[int, dict[str, int]] = {pk: {} for pk in campaign_ids}
    if not campaign_ids:
        return counts
    rows = (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        counts[row["campaign_id"]][row["status"]] = row["n"]
    return counts

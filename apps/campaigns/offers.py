"""The points-multiplier offer as the loyalty engine sees it: an earn rule limited to a
campaign's recipients applies to an order placed within the campaign's days after the member's
message (``CONDITIONS["campaign"]``, registered in ``CampaignsConfig.ready``)."""

import datetime as dt

from .enums import REACHED
from .models import Campaign, Message


def campaign_recipient(*, campaign_id: int, customer_id: int | None, at: dt.datetime) -> bool:
    if customer_id is None:
        return False
    days = Campaign.objects.filter(pk=campaign_id).values_list("multiplier_days", flat=True).first()
    if not days:
        return False
    return Message.objects.filter(
        campaign_id=campaign_id,
        customer_id=customer_id,
        status__in=REACHED,
        sent_at__lte=at,
        sent_at__gt=at - dt.timedelta(days=days),
    ).exists()


def campaign_condition(rule, facts) -> bool:
    """True for rules without a campaign; else whether the order's member received the
    campaign's message within its days before the order."""
    campaign_id = getattr(rule, "campaign_id", None)
    if not campaign_id:
        return True
    return campaign_recipient(
        campaign_id=campaign_id, customer_id=facts.customer_id, at=facts.placed_at
    )

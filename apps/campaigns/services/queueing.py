"""Putting customers on a campaign: suppression, the A/B/holdout draw, offers, and the message
rows — one transaction per chunk, all or nothing.

What holds (invariants 2 and 6):

* One row per (campaign, step, customer), by the unique key. A chunk runs under the campaign's
  row lock and skips customers already placed, so a retried, duplicated or resumed chunk places
  nobody twice; the unique key is the last word.
* Suppression is decided on the state at queue time and recorded with its reason: anonymised,
  unsubscribed / no consent for any of the campaign's channels and its purpose, no valid
  address, the frequency cap (messages in the last 7 days across all campaigns, counted under a
  per-customer advisory lock so that two campaigns sending at once cannot both take the last
  slot), the budget (message cost and the offer's cost, under the campaign's row lock).
* The holdout is drawn among the reachable only, so that treated and holdout customers are
  comparable; they receive nothing and use no cap, budget or offer.
* Offers (a personal coupon, bonus points) are issued in the same transaction as the message.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.bulk import rows_insert
from apps.customers.models import Customer
from apps.loyalty.enums import BonusKind, TxKind
from apps.loyalty.models import Programme
from apps.loyalty.services import bonus_award, coupons_issue_bulk

from ..audience import assign, channel_choose, consents_for, contact_locks, unverified_emails
from ..enums import REACHED, CampaignStatus, MessageStatus, OfferKind, Purpose, Suppression
from ..models import Campaign, CampaignSettings, Message

CAP_WINDOW = dt.timedelta(days=7)


@dataclass
class QueueOutcome:
    placed: int = 0
    busy: bool = False  # another sender holds the campaign (``wait=False``): nothing was done
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        self.placed += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


@dataclass
class Placed:
    """One customer's outcome of placing, before it is written."""

    customer: Customer
    step: str
    channel: str
    status: str = ""
    reason: str = ""
    variant_id: int | None = None
    coupon_id: int | None = None
    cost: Decimal = Decimal(0)


MESSAGE_COLUMNS = (
    "campaign_id", "step", "customer_id", "variant_id", "channel", "status", "reason", "error",
    "marketing", "language", "created_at", "not_before", "provider_id", "coupon_id", "cost",
)  # fmt: skip


def recent_contacts(*, customer_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Messages each customer received or has queued in the cap window, across campaigns."""
    # Counted when sent (a delayed journey message counts from its send), queued ones always.
    recent = Q(status=MessageStatus.QUEUED) | Q(status__in=REACHED, sent_at__gt=now - CAP_WINDOW)
    return dict(
        Message.objects.filter(recent, customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values_list("customer_id", "n")
    )


def offer_cost(campaign: Campaign, programme: Programme) -> Decimal:
    """What an offer costs when it is sent, as far as known then (bonus points at the point
    value; a coupon costs when redeemed, a multiplier when it earns)."""
    if campaign.offer_kind == OfferKind.BONUS_POINTS:
        return Decimal(campaign.bonus_points) * programme.point_value
    return Decimal(0)


@transaction.atomic
def messages_queue(
    *,
    campaign: Campaign,
    customer_ids: list[int],
    step: str | Mapping[int, str],
    not_before: dt.datetime | None = None,
    now: dt.datetime | None = None,
    wait: bool = True,
) -> QueueOutcome:
    """Place these customers on ``campaign`` at ``step`` (one step for all, or one per
    customer). Returns what was placed; customers already placed at their step are skipped.
    With ``wait=False`` a campaign another sender is placing is left to it (``busy``)."""
    now = now or timezone.now()
    outcome = QueueOutcome()
    locked = Campaign.objects.select_for_update(skip_locked=not wait).filter(pk=campaign.pk)
    campaign = locked.first()
    if campaign is None:
        outcome.busy = True
        return outcome
    if campaign.status != CampaignStatus.RUNNING or not customer_ids:
        return outcome
    steps = {cid: step if isinstance(step, str) else step[cid] for cid in customer_ids}
    placed = set(
        Message.objects.filter(
            campaign=campaign, customer_id__in=customer_ids, step__in=set(steps.values())
        ).values_list("customer_id", "step")
    )
    ids = sorted(cid for cid in set(customer_ids) if (cid, steps[cid]) not in placed)
    if not ids:
        return outcome
    contact_locks(ids)
    settings_ = CampaignSettings.get()
    programme = Programme.get()
    variants = list(campaign.variants.order_by("label", "pk"))
    consents = consents_for(customer_ids=ids, purpose=campaign.purpose)
    counts = recent_contacts(customer_ids=ids, now=now)
    unit = campaign.cost_per_message + offer_cost(campaign, programme)
    spent = campaign.spent
    marketing = campaign.purpose == Purpose.MARKETING
    rows: list[Placed] = []
    customers = list(
        Customer.objects.filter(pk__in=ids)
        .only("pk", "user_id", "email", "phone", "preferred_channel", "preferred_language",
              "anonymized_at")
        .order_by("pk")
    )  # fmt: skip
    unverified = unverified_emails(customers)
    for customer in customers:
        channel, reason = (None, Suppression.ANONYMISED)
        if customer.anonymized_at is None:
            channel, reason = channel_choose(
                customer=customer,
                channels=campaign.channels,
                consents=consents,
                purpose=campaign.purpose,
                unverified=unverified,
            )
        variant = assign(campaign=campaign, customer_id=customer.pk, variants=variants)
        if channel is not None and counts.get(customer.pk, 0) >= settings_.frequency_cap:
            reason = Suppression.FREQUENCY_CAP
        elif channel is not None and variant is not None:
            if campaign.budget is not None and spent + unit > campaign.budget:
                reason = Suppression.BUDGET
            else:
                reason = None
        row = Placed(customer=customer, step=steps[customer.pk], channel=channel or "")
        if reason is not None:
            row.status, row.reason = MessageStatus.SUPPRESSED, reason
        elif variant is None:
            row.status = MessageStatus.HOLDOUT
        else:
            row.status, row.variant_id = MessageStatus.QUEUED, variant.pk
            row.cost = campaign.cost_per_message
            spent += unit
            counts[customer.pk] = counts.get(customer.pk, 0) + 1
        rows.append(row)
        outcome.add(row.status)
    _offers_issue(campaign=campaign, rows=rows, now=now)
    rows_insert(
        model=Message,
        columns=MESSAGE_COLUMNS,
        rows=[
            (campaign.pk, r.step, r.customer.pk, r.variant_id, r.channel, r.status, r.reason,
             "", marketing, r.customer.preferred_language, now, not_before or now, "",
             r.coupon_id, r.cost)
            for r in rows
        ],
    )  # fmt: skip
    if spent != campaign.spent:
        Campaign.objects.filter(pk=campaign.pk).update(spent=F("spent") + (spent - campaign.spent))
    return outcome


def _offers_issue(*, campaign: Campaign, rows: list[Placed], now: dt.datetime) -> None:
    queued = [row for row in rows if row.status == MessageStatus.QUEUED]
    if not queued:
        return
    if campaign.offer_kind == OfferKind.COUPON:
        coupons = coupons_issue_bulk(
            owner_ids=[row.customer.pk for row in queued],
            kind=campaign.coupon_kind,
            value=campaign.coupon_value,
            min_spend=campaign.coupon_min_spend,
            valid_days=campaign.coupon_valid_days,
            source_ref=f"campaign:{campaign.pk}",
            at=now,
        )
        for row in queued:
            row.coupon_id = coupons[row.customer.pk]
    elif campaign.offer_kind == OfferKind.BONUS_POINTS and campaign.bonus_points:
        for row in queued:
            bonus_award(
                customer=row.customer,
                points=campaign.bonus_points,
                key=f"campaign:{campaign.pk}:{row.step}:{row.customer.pk}",
                reason=_("Campaign bonus: %(name)s") % {"name": campaign.name},
                at=now,
                kind=TxKind.EARN,
                source_ref=f"campaign:{campaign.pk}",
                detail={"bonus": BonusKind.CAMPAIGN, "campaign": campaign.pk},
                campaign_id=campaign.pk,
            )

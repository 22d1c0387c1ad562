"""Sending queued messages: claim a batch, re-check consent, render, hand to the back-ends,
record — at most once per message.

A batch is claimed in its own short transaction (``claimed_at``, rows read ``FOR UPDATE SKIP
LOCKED`` so concurrent senders split the work), then sent, then recorded. A worker that dies
after claiming leaves the batch claimed: ``claims_recover`` marks what it held as failed
("interrupted") once the claim is older than ``CLAIM_TIMEOUT``, rather than sending it again —
a member may already have it, and a duplicate is worse than a gap. Nothing else can send a
message twice: only a claim leads to a send, and a claim is taken once.

Consent is read again at send time (invariant 6): a customer who unsubscribed after being
queued is suppressed then, and the reserved cost goes back to the budget. E-mail and SMS wait
out the quiet hours (deferred, not dropped); the inbox is not an interruption and is delivered
at any hour.
"""

import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from apps.core.db import bulk_update_fields
from apps.customers.enums import Channel
from apps.loyalty.models import Programme, Tier
from apps.loyalty.selectors import accounts_brief, points_expiring_for

from ..audience import address_ok, consent_ok, consents_for, unverified_emails
from ..channels import Sent, email_send, inbox_send, sms_send
from ..composer import LANGUAGES, compose, context_for, language_for, unsubscribe_url
from ..enums import CampaignStatus, MessageStatus, Purpose, Suppression, Trigger
from ..models import Campaign, CampaignSettings, Message
from ..templating import TemplateFailed

CLAIM_TIMEOUT = dt.timedelta(minutes=10)
RETRY_LATER = dt.timedelta(minutes=5)
INTERRUPTED = "interrupted: the sender stopped before the back-end confirmed"
QUIET_CHANNELS = (Channel.EMAIL, Channel.SMS)
# What sending reads: the message, the customer's address, name, language and state, the coupon.
MESSAGE_FIELDS = (
    *[f.name for f in Message._meta.concrete_fields],
    "customer__member_number",
    "customer__user_id",
    "customer__first_name",
    "customer__last_name",
    "customer__email",
    "customer__phone",
    "customer__preferred_language",
    "customer__anonymized_at",
    "coupon__code",
    "coupon__kind",
    "coupon__value",
)


@dataclass
class DeliveryOutcome:
    claimed: int = 0
    by_status: Counter = field(default_factory=Counter)
    deferred: int = 0
    by_channel: Counter = field(default_factory=Counter)


@transaction.atomic
def _claim(*, campaign_id: int, limit: int, now: dt.datetime) -> list[int]:
    ids = list(
        Message.objects.filter(
            campaign_id=campaign_id,
            status=MessageStatus.QUEUED,
            claimed_at__isnull=True,
            not_before__lte=now,
        )
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        Message.objects.filter(pk__in=ids).update(claimed_at=now)
    return ids


def tier_names() -> dict[int, dict[str, str]]:
    names: dict[int, dict[str, str]] = {}
    for tier in Tier.objects.all():
        names[tier.pk] = {
            lang: getattr(tier, f"name_{lang.replace('-', '_')}", "") or tier.name
            for lang in LANGUAGES
        }
    return names


def messages_deliver(
    *, campaign_id: int, limit: int = 500, now: dt.datetime | None = None
) -> DeliveryOutcome:
    """Send one batch of the campaign's due messages. Returns what happened to it."""
    now = now or timezone.now()
    outcome = DeliveryOutcome()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.RUNNING:
        return outcome
    ids = _claim(campaign_id=campaign_id, limit=limit, now=now)
    outcome.claimed = len(ids)
    if not ids:
        return outcome
    settings_ = CampaignSettings.get()
    messages = list(
        Message.objects.filter(pk__in=ids)
        .select_related("customer", "coupon")
        .only(*MESSAGE_FIELDS)
        .order_by("pk")
    )
    if settings_.in_quiet_hours(now):
        later = [m.pk for m in messages if m.channel in QUIET_CHANNELS]
        if later:
            Message.objects.filter(pk__in=later).update(
                not_before=settings_.quiet_until(now), claimed_at=None
            )
            outcome.deferred = len(later)
        messages = [m for m in messages if m.channel not in QUIET_CHANNELS]
    results = _send(campaign=campaign, messages=messages, settings_=settings_, now=now)
    _record(campaign=campaign, messages=messages, results=results, now=now)
    for message in messages:
        outcome.by_channel[message.channel] += 1
    for result in results.values():
        outcome.by_status[result.status] += 1
    return outcome


def _send(
    *, campaign: Campaign, messages: list[Message], settings_: CampaignSettings, now: dt.datetime
) -> dict[int, Sent]:
    results: dict[int, Sent] = {}
    if not messages:
        return results
    customer_ids = [m.customer_id for m in messages]
    consents = consents_for(customer_ids=customer_ids, purpose=campaign.purpose)
    accounts = accounts_brief(customer_ids=customer_ids)
    programme = Programme.get()
    expiring = points_expiring_for(
        customer_ids=customer_ids, as_of=now, within_days=programme.reminder_days or 30
    )
    names = tier_names()
    unverified = unverified_emails([m.customer for m in messages])
    outdated_check = campaign.trigger == Trigger.POINTS_EXPIRING
    variants = {v.pk: v for v in campaign.variants.all()}
    tracking = settings_.tracking and campaign.purpose == Purpose.MARKETING
    batches: dict[str, list] = defaultdict(list)
    for message in messages:
        customer = message.customer
        reason = consent_ok(consents.get((customer.pk, message.channel)), campaign.purpose)
        if customer.anonymized_at is not None:
            reason = Suppression.ANONYMISED
        elif reason is None and not address_ok(customer, message.channel, unverified):
            reason = Suppression.INVALID_ADDRESS
        elif reason is None and outdated_check and customer.pk not in expiring:
            # The points were spent or expired before the reminder was due: it would only
            # tell the member something no longer true.
            reason = Suppression.OUTDATED
        if reason is not None:
            results[message.pk] = Sent(message.pk, MessageStatus.SUPPRESSED, error=reason)
            continue
        lang = language_for(customer)
        unsubscribe = (
            unsubscribe_url(customer, message.channel, campaign.purpose)
            if message.channel != Channel.PORTAL
            else ""
        )
        context = context_for(
            customer=customer,
            lang=lang,
            account=accounts.get(customer.pk),
            tier_names=names,
            expiring=expiring.get(customer.pk),
            coupon=message.coupon,
            bonus_points=campaign.bonus_points if campaign.offer_kind == "bonus_points" else 0,
            unsubscribe=unsubscribe,
        )
        try:
            rendered = compose(
                campaign=campaign,
                variant=variants[message.variant_id],
                channel=message.channel,
                lang=lang,
                context=context,
                message_id=message.pk,
                tracking=tracking and message.channel == Channel.EMAIL,
            )
        except TemplateFailed as exc:
            results[message.pk] = Sent(
                message.pk, MessageStatus.FAILED, error=exc.reason[:255], handed=False
            )
            continue
        if message.channel == Channel.SMS and unsubscribe:
            rendered = type(rendered)(subject="", text=_sms_with_opt_out(rendered.text, lang))
        batches[message.channel].append((message, rendered, unsubscribe))
    sent = email_send(batches[Channel.EMAIL])
    sent += sms_send([(m, r) for m, r, _u in batches[Channel.SMS]])
    sent += inbox_send([(m, r) for m, r, _u in batches[Channel.PORTAL]], at=now)
    results.update({s.message_id: s for s in sent})
    return results


def _sms_with_opt_out(text: str, lang: str) -> str:
    # Chinese carriers require the opt-out words in every marketing text.
    return f"{text} {'回T退订' if lang.startswith('zh') else 'Reply T to opt out'}"


@transaction.atomic
def _record(
    *, campaign: Campaign, messages: list[Message], results: dict[int, Sent], now: dt.datetime
) -> None:
    refund = Decimal(0)
    changed = []
    for message in messages:
        result = results.get(message.pk)
        if result is None:
            continue
        message.status = result.status
        message.claimed_at = None
        message.provider_id = result.provider_id
        if result.status == MessageStatus.QUEUED:  # not tried: back to the queue for later
            message.error = result.error
            message.not_before = now + RETRY_LATER
        elif result.status == MessageStatus.SUPPRESSED:
            message.reason, message.error = result.error, ""
            refund += message.cost
            message.cost = Decimal(0)
        else:
            message.error = result.error
            message.sent_at = now
            if not result.handed:
                refund += message.cost
                message.cost = Decimal(0)
        if result.status == MessageStatus.DELIVERED:
            message.delivered_at = now
        changed.append(message)
    bulk_update_fields(
        Message,
        changed,
        [
            "status",
            "claimed_at",
            "provider_id",
            "reason",
            "error",
            "cost",
            "sent_at",
            "delivered_at",
            "not_before",
        ],
    )
    if refund:
        Campaign.objects.filter(pk=campaign.pk).update(spent=F("spent") - refund)


def claims_recover(*, now: dt.datetime | None = None) -> int:
    """Claims older than ``CLAIM_TIMEOUT`` belong to a sender that died: their messages are
    recorded as failed ("interrupted"), never sent again. Returns how many."""
    now = now or timezone.now()
    return Message.objects.filter(
        status=MessageStatus.QUEUED, claimed_at__lt=now - CLAIM_TIMEOUT
    ).update(status=MessageStatus.FAILED, error=INTERRUPTED, claimed_at=None)


class Pacer:
    """Keeps each channel at or under its rate (messages per second, ``CAMPAIGN_SEND_RATES``):
    after each batch it sleeps until the batch's share of time has passed."""

    def __init__(self, rates: dict[str, float] | None = None, clock=time.monotonic, sleep=None):
        self.rates = rates or settings.CAMPAIGN_SEND_RATES
        self.clock, self.sleep = clock, sleep or time.sleep
        self.started = clock()
        self.sent: Counter = Counter()

    def batch_size(self, default: int) -> int:
        slowest = min(self.rates.values()) if self.rates else default
        return max(1, min(default, int(slowest) or 1))

    def after(self, by_channel: Counter) -> float:
        self.sent.update(by_channel)
        needed = max(
            (n / self.rates[c] for c, n in self.sent.items() if self.rates.get(c)), default=0.0
        )
        wait = needed - (self.clock() - self.started)
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)


def campaign_counts(*, campaign: Campaign) -> dict[str, int]:
    """Messages per status (one query)."""
    rows = campaign.messages.values("status").annotate(n=Count("pk")).values_list("status", "n")
    return {status: n for status, n in rows}

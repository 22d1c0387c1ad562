"""Writes of campaigns: save (settings and variants, in both languages), start, schedule, pause,
resume, cancel, complete. Every way in (dashboard, admin, seed) goes through these, so a
campaign's content is checked in the sandbox in one place and every change leaves an audit row.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.analytics.models import Segment
from apps.analytics.services.segments import segment_freeze
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record
from apps.core.text import text_check
from apps.customers.enums import Channel
from apps.loyalty.enums import CouponKind, EarnRuleKind
from apps.loyalty.models import EarnRule

from ..enums import CampaignKind, CampaignStatus, OfferKind, Trigger
from ..exceptions import CampaignStateConflict
from ..models import Campaign, Variant
from ..templating import template_validate

LANG_SUFFIXES = ("en", "zh_hans")
NAME_FIELDS = tuple(f"name_{s}" for s in LANG_SUFFIXES)
CONTENT_FIELDS = tuple(
    f"{field}_{s}" for field in ("subject", "body", "sms_body") for s in LANG_SUFFIXES
)
SETTINGS_FIELDS = (
    "kind",
    "purpose",
    "segment",
    "channels",
    "scheduled_at",
    "trigger",
    "trigger_days",
    "delay_hours",
    "offer_kind",
    "coupon_kind",
    "coupon_value",
    "coupon_min_spend",
    "coupon_valid_days",
    "bonus_points",
    "multiplier",
    "multiplier_days",
    "holdout_percent",
    "cost_per_message",
    "budget",
    "conversion_days",
)
MAX_VARIANTS = 5


def _fail(message: str, field: str | None = None) -> None:
    raise ValidationFailed(message, field=field) if field else ValidationFailed(message)


def _check_settings(campaign: Campaign) -> None:
    if not campaign.channels:
        _fail(_("Choose at least one channel."), "channels")
    if set(campaign.channels) - set(Channel.values):
        _fail(_("Unknown channel."), "channels")
    if campaign.kind == CampaignKind.BROADCAST:
        if campaign.segment_id is None:
            _fail(_("A broadcast needs a segment to send to."), "segment")
        campaign.trigger, campaign.trigger_days, campaign.delay_hours = "", None, 0
    else:
        if campaign.trigger not in Trigger.values:
            _fail(_("Choose what starts the journey."), "trigger")
        if campaign.trigger == Trigger.INACTIVE and not campaign.trigger_days:
            _fail(_("Say after how many days without a purchase."), "trigger_days")
        campaign.scheduled_at = None
    if campaign.offer_kind == OfferKind.COUPON:
        if campaign.coupon_kind not in CouponKind.values:
            _fail(_("Choose the kind of coupon."), "coupon_kind")
        if campaign.coupon_kind != CouponKind.FREE_SHIPPING and campaign.coupon_value <= 0:
            _fail(_("A coupon needs a positive value."), "coupon_value")
        if campaign.coupon_kind == CouponKind.PERCENT and campaign.coupon_value >= 100:
            _fail(_("A percentage off must be below 100."), "coupon_value")
    if campaign.offer_kind == OfferKind.BONUS_POINTS and campaign.bonus_points <= 0:
        _fail(_("Say how many bonus points."), "bonus_points")
    if campaign.offer_kind == OfferKind.MULTIPLIER and (
        campaign.multiplier <= 1 or campaign.multiplier > 10 or not campaign.multiplier_days
    ):
        _fail(_("A multiplier is above 1 and at most 10, for at least one day."), "multiplier")
    if campaign.budget is not None and campaign.budget < 0:
        _fail(_("The budget cannot be negative."), "budget")
    if campaign.cost_per_message < 0:
        _fail(_("The cost per message cannot be negative."), "cost_per_message")
    try:
        campaign.full_clean(exclude=["segment", "created_by", "name"])
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        _fail(f"{errors[0]}", field if field != "__all__" else None)


def _check_variant(data: dict[str, Any], channels: list[str], index: int) -> dict[str, Any]:
    cleaned = {key: (data.get(key) or "").strip() for key in CONTENT_FIELDS}
    label = (data.get("label") or chr(ord("A") + index)).strip()[:20]
    weight = int(data.get("weight") or 1)
    if not 1 <= weight <= 100:
        _fail(_("A weight is between 1 and 100."), "weight")
    text_check(subject_en=cleaned["subject_en"], subject_zh_hans=cleaned["subject_zh_hans"])
    for key, value in cleaned.items():
        try:
            template_validate(value)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{label} · {key}: {exc.message}", field=key) from exc
    needs = []
    if Channel.EMAIL in channels or Channel.PORTAL in channels:
        needs += [("subject", _("a subject")), ("body", _("a message"))]
    if Channel.SMS in channels:
        needs.append(("sms_body", _("an SMS text")))
    for field, words in needs:
        if not any(cleaned[f"{field}_{s}"] for s in LANG_SUFFIXES):
            _fail(
                _("Variant %(label)s needs %(what)s in at least one language.")
                % {"label": label, "what": words},
                f"{field}_en",
            )
    return {"label": label, "weight": weight, **cleaned}


@transaction.atomic
def campaign_save(
    *,
    actor: User | None,
    names: dict[str, str],
    settings: dict[str, Any],
    variants: list[dict[str, Any]],
    campaign: Campaign | None = None,
) -> Campaign:
    """Create or change a draft or scheduled campaign with its variants. Everything is checked
    — settings, every variant's content in the sandbox against the sample member — before
    anything is written; a refusal changes nothing."""
    creating = campaign is None
    if campaign is not None:
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.can_edit:
            raise CampaignStateConflict(_("Only a draft or scheduled campaign can be changed."))
    campaign = campaign or Campaign(created_by=actor if getattr(actor, "pk", None) else None)
    cleaned_names = {k: (names.get(k) or "").strip()[:120] for k in NAME_FIELDS}
    if not any(cleaned_names.values()):
        _fail(_("A campaign needs a name in at least one language."), "name_en")
    text_check(**cleaned_names)
    before = {"names": {k: getattr(campaign, k, "") for k in NAME_FIELDS}}
    for key, value in cleaned_names.items():
        setattr(campaign, key, value)
    for key in SETTINGS_FIELDS:
        if key in settings:
            value = settings[key]
            if key == "segment":
                campaign.segment = value if isinstance(value, Segment) or value is None else None
                continue
            setattr(campaign, key, value)
    campaign.channels = [c for c in Channel.values if c in (campaign.channels or [])]
    for money_field in ("coupon_value", "coupon_min_spend", "cost_per_message", "multiplier"):
        setattr(campaign, money_field, Decimal(getattr(campaign, money_field) or 0))
    _check_settings(campaign)
    if not variants:
        _fail(_("A campaign needs at least one variant."))
    if len(variants) > MAX_VARIANTS:
        _fail(_("At most %(n)s variants.") % {"n": MAX_VARIANTS})
    checked = [_check_variant(v, campaign.channels, i) for i, v in enumerate(variants)]
    if len({v["label"] for v in checked}) != len(checked):
        _fail(_("Each variant needs its own label."))
    if campaign.kind == CampaignKind.BROADCAST and campaign.scheduled_at:
        campaign.status = CampaignStatus.SCHEDULED
    elif campaign.status == CampaignStatus.SCHEDULED:
        campaign.status = CampaignStatus.DRAFT
    campaign.save()
    keep = []
    for data in checked:
        variant = campaign.variants.filter(label=data["label"]).first() or Variant(
            campaign=campaign
        )
        for key, value in data.items():
            setattr(variant, key, value)
        variant.save()
        keep.append(variant.pk)
    campaign.variants.exclude(pk__in=keep).delete()
    audit_record(
        actor=actor,
        action="campaign.create" if creating else "campaign.update",
        target=campaign,
        summary=str(campaign)[:300],
        before=None if creating else before,
        after={
            "names": cleaned_names,
            "kind": campaign.kind,
            "channels": campaign.channels,
            "variants": [v["label"] for v in checked],
            "holdout_percent": campaign.holdout_percent,
        },
    )
    return campaign


def _offer_rule(campaign: Campaign, now: dt.datetime) -> EarnRule | None:
    """A multiplier offer is an earn rule limited to the campaign's recipients, each for the
    campaign's days after their message (``offers.campaign_condition``)."""
    if campaign.offer_kind != OfferKind.MULTIPLIER:
        return None
    factor = f"×{campaign.multiplier.normalize():f}"
    rule = EarnRule.objects.create(
        name_en=f"Campaign {factor}: {campaign.name_en or campaign.name}"[:100],
        name_zh_hans=f"活动 {factor}：{campaign.name_zh_hans or campaign.name}"[:100],
        kind=EarnRuleKind.PROMOTION,
        multiplier=campaign.multiplier,
        starts_at=now,
        campaign=campaign,
        stackable=True,
    )
    return rule


def _transition(campaign: Campaign, allowed: tuple[str, ...], message: str) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in allowed:
        raise CampaignStateConflict(message)
    return campaign


@transaction.atomic
def campaign_start(
    *, campaign: Campaign, actor: User | None, now: dt.datetime | None = None
) -> Campaign:
    """Start a broadcast now (its segment frozen into a snapshot: later changes to the segment
    do not change who receives it) or switch a journey on. The send itself runs in Celery,
    queued after commit."""
    now = now or timezone.now()
    campaign = _transition(
        campaign,
        (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED),
        _("Only a draft or scheduled campaign can start."),
    )
    if not campaign.variants.exists():
        raise CampaignStateConflict(_("Add a variant before starting."))
    if campaign.kind == CampaignKind.BROADCAST:
        snapshot = segment_freeze(
            segment=campaign.segment, actor=actor, note=f"campaign {campaign.pk}"
        )
        campaign.snapshot = snapshot
        campaign.audience_size = snapshot.size
    campaign.earn_rule = _offer_rule(campaign, now)
    campaign.status = CampaignStatus.RUNNING
    campaign.started_at = now
    campaign.save()
    audit_record(
        actor=actor,
        action="campaign.start",
        target=campaign,
        summary=str(campaign)[:300],
        after={"audience": campaign.audience_size, "snapshot": campaign.snapshot_id},
    )
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: User | None) -> Campaign:
    campaign = _transition(
        campaign, (CampaignStatus.RUNNING,), _("Only a running campaign can pause.")
    )
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="campaign.pause", target=campaign, summary=str(campaign))
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: User | None) -> Campaign:
    campaign = _transition(
        campaign, (CampaignStatus.PAUSED,), _("Only a paused campaign can resume.")
    )
    campaign.status = CampaignStatus.RUNNING
    campaign.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="campaign.resume", target=campaign, summary=str(campaign))
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Stop for good: what was not sent yet is never sent (the queued messages are recorded as
    failed, "cancelled"), and a multiplier offer ends."""
    campaign = _transition(
        campaign,
        (
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.RUNNING,
            CampaignStatus.PAUSED,
        ),
        _("This campaign has already ended."),
    )
    now = timezone.now()
    reserved = campaign.messages.filter(status="queued").aggregate(c=Sum("cost"))["c"] or 0
    campaign.messages.filter(status="queued").update(
        status="failed", error="cancelled", claimed_at=None, cost=Decimal(0)
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = now
    campaign.spent -= reserved  # what was reserved for the unsent messages goes back
    campaign.save(update_fields=["status", "finished_at", "spent", "updated_at"])
    if campaign.earn_rule_id:
        EarnRule.objects.filter(pk=campaign.earn_rule_id).update(ends_at=now)
    audit_record(actor=actor, action="campaign.cancel", target=campaign, summary=str(campaign))
    return campaign


@transaction.atomic
def campaign_complete(*, campaign: Campaign, now: dt.datetime | None = None) -> bool:
    """A running broadcast whose audience is placed and whose queue is empty is complete.
    Returns whether it completed now. (A journey runs until someone stops it.)"""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if (
        campaign.kind != CampaignKind.BROADCAST
        or campaign.status != CampaignStatus.RUNNING
        or campaign.placed_at is None
        or campaign.messages.filter(status="queued").exists()
    ):
        return False
    campaign.status = CampaignStatus.COMPLETED
    campaign.finished_at = now or timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    return True

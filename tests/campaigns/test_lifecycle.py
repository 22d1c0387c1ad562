"""Writes of campaigns: save (refusals change nothing), start (the audience frozen), schedule,
pause, resume, cancel, and the audit trail every change leaves."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.analytics.models import SnapshotMember
from apps.analytics.services.segments import segment_save
from apps.campaigns.enums import CampaignStatus, MessageStatus
from apps.campaigns.exceptions import CampaignStateConflict
from apps.campaigns.models import Campaign, Message, Variant
from apps.campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_complete,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_start,
)
from apps.campaigns.services.sending import campaigns_due
from apps.campaigns.tasks import campaign_send_task, campaigns_tick
from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from tests.campaigns.factories import (
    EVERYONE,
    VARIANT,
    broadcast,
    journey,
    no_quiet_hours,
    reachable,
    segment_everyone,
)
from tests.customers.factories import TagFactory

pytestmark = pytest.mark.django_db

VIP = {"field": "customer.tags", "op": "has", "value": "vip"}
NAMES = {"name_en": "Spring sale", "name_zh_hans": "春季促销"}


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


def _counts():
    return (
        Campaign.objects.count(),
        Variant.objects.count(),
        AuditEvent.objects.filter(action__startswith="campaign.").count(),
    )


def _audit(campaign) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="campaigns.campaign", target_id=str(campaign.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )


# --- save ----------------------------------------------------------------------------------

BROADCAST = {"kind": "broadcast", "channels": ["email"], "holdout_percent": 0}
JOURNEY = {"kind": "triggered", "trigger": "welcome", "channels": ["email"]}

REFUSALS = [
    ("no channel", BROADCAST | {"channels": []}, None, "Choose at least one channel."),
    ("unknown channel", BROADCAST | {"channels": ["fax"]}, None, "Choose at least one channel."),
    ("no segment", BROADCAST | {"segment": None}, None, "A broadcast needs a segment to send to."),
    ("no trigger", JOURNEY | {"trigger": ""}, None, "Choose what starts the journey."),
    ("bad trigger", JOURNEY | {"trigger": "full_moon"}, None, "Choose what starts the journey."),
    (
        "inactive without days",
        JOURNEY | {"trigger": "inactive_n_days", "trigger_days": None},
        None,
        "Say after how many days without a purchase.",
    ),
    (
        "coupon kind",
        BROADCAST | {"offer_kind": "coupon", "coupon_kind": "gift"},
        None,
        "Choose the kind of coupon.",
    ),
    (
        "coupon without value",
        BROADCAST | {"offer_kind": "coupon", "coupon_kind": "fixed", "coupon_value": 0},
        None,
        "A coupon needs a positive value.",
    ),
    (
        "percent of 100",
        BROADCAST | {"offer_kind": "coupon", "coupon_kind": "percent", "coupon_value": 100},
        None,
        "A percentage off must be below 100.",
    ),
    (
        "bonus without points",
        BROADCAST | {"offer_kind": "bonus_points", "bonus_points": 0},
        None,
        "Say how many bonus points.",
    ),
    (
        "multiplier of 1",
        BROADCAST | {"offer_kind": "multiplier", "multiplier": 1},
        None,
        "A multiplier is above 1 and at most 10, for at least one day.",
    ),
    (
        "multiplier of 11",
        BROADCAST | {"offer_kind": "multiplier", "multiplier": 11},
        None,
        "A multiplier is above 1 and at most 10, for at least one day.",
    ),
    (
        "negative budget",
        BROADCAST | {"budget": Decimal("-1")},
        None,
        "The budget cannot be negative.",
    ),
    (
        "negative cost",
        BROADCAST | {"cost_per_message": Decimal("-0.01")},
        None,
        "The cost per message cannot be negative.",
    ),
    ("holdout over half", BROADCAST | {"holdout_percent": 51}, None, None),
    ("no variant", BROADCAST, [], "A campaign needs at least one variant."),
    (
        "six variants",
        BROADCAST,
        [dict(VARIANT, label=label) for label in "ABCDEF"],
        "At most 5 variants.",
    ),
    (
        "duplicate labels",
        BROADCAST,
        [dict(VARIANT, label="A"), dict(VARIANT, label="A ")],
        "Each variant needs its own label.",
    ),
    ("weight over 100", BROADCAST, [dict(VARIANT, weight=101)], "A weight is between 1 and 100."),
    (
        "e-mail without a subject",
        BROADCAST,
        [dict(VARIANT, subject_en="", subject_zh_hans="")],
        "Variant A needs a subject in at least one language.",
    ),
    (
        "SMS without text",
        BROADCAST | {"channels": ["sms"]},
        [dict(VARIANT, sms_body_en="", sms_body_zh_hans="")],
        "Variant A needs an SMS text in at least one language.",
    ),
]


@pytest.mark.parametrize(
    ("settings", "variants", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_a_refused_save_changes_nothing(marketer, settings, variants, message):
    settings = {"segment": segment_everyone(marketer)} | settings
    before = _counts()

    with pytest.raises(ValidationFailed) as refused:
        campaign_save(
            actor=marketer,
            names=NAMES,
            settings=settings,
            variants=[dict(VARIANT)] if variants is None else variants,
        )

    if message is not None:
        assert refused.value.message == message
    assert _counts() == before


def test_a_campaign_needs_a_name(marketer):
    before = _counts()
    with pytest.raises(ValidationFailed) as refused:
        campaign_save(
            actor=marketer,
            names={"name_en": " ", "name_zh_hans": ""},
            settings=BROADCAST | {"segment": segment_everyone(marketer)},
            variants=[dict(VARIANT)],
        )
    assert refused.value.message == "A campaign needs a name in at least one language."
    assert _counts() == before


def test_save_creates_a_draft_with_its_variants_and_an_audit_row(marketer):
    campaign = broadcast(
        actor=marketer,
        channels=["sms", "email"],
        variants=[dict(VARIANT, label="A", weight=3), dict(VARIANT, label="B")],
    )

    assert (campaign.status, campaign.channels, campaign.created_by) == (
        CampaignStatus.DRAFT,
        ["email", "sms"],  # in the channels' own order
        marketer,
    )
    assert list(campaign.variants.values_list("label", "weight")) == [("A", 3), ("B", 1)]
    (event,) = AuditEvent.objects.filter(action="campaign.create")
    assert (event.actor, event.target_id) == (marketer, str(campaign.pk))
    assert event.after["variants"] == ["A", "B"] and event.before is None


def test_an_edit_replaces_the_variants_and_is_audited_with_the_old_names(marketer):
    campaign = broadcast(
        actor=marketer, variants=[dict(VARIANT, label="A"), dict(VARIANT, label="B")]
    )

    campaign_save(
        actor=marketer,
        campaign=campaign,
        names={"name_en": "Summer sale"},
        settings={},
        variants=[dict(VARIANT, label="B", subject_en="New {{ first_name }}")],
    )

    campaign.refresh_from_db()
    assert campaign.name_en == "Summer sale"
    assert list(campaign.variants.values_list("label", "subject_en")) == [
        ("B", "New {{ first_name }}")
    ]
    update = AuditEvent.objects.get(action="campaign.update")
    assert update.before["names"]["name_en"] == "Spring sale"
    assert update.after["names"]["name_en"] == "Summer sale"


def test_a_broadcast_keeps_no_trigger_and_a_journey_no_schedule(marketer):
    b = broadcast(actor=marketer, trigger="birthday", delay_hours=5)
    j = journey(trigger="welcome", actor=marketer, scheduled_at=timezone.now())
    assert (b.trigger, b.trigger_days, b.delay_hours) == ("", None, 0)
    assert (j.scheduled_at, j.status) == (None, CampaignStatus.DRAFT)


def test_only_a_draft_or_scheduled_campaign_can_be_edited(marketer):
    campaign = campaign_start(campaign=broadcast(actor=marketer), actor=marketer)
    before = _counts()

    with pytest.raises(CampaignStateConflict):
        campaign_save(
            actor=marketer,
            campaign=campaign,
            names={"name_en": "Changed"},
            settings={},
            variants=[dict(VARIANT)],
        )

    campaign.refresh_from_db()
    assert (campaign.name_en, campaign.status) == ("Spring sale", CampaignStatus.RUNNING)
    assert _counts() == before


# --- start: the audience frozen ------------------------------------------------------------


def test_start_freezes_the_audience_and_later_segment_changes_do_not_alter_it(marketer):
    vip, later_vip = reachable(2, "email")
    vip.tags.add(TagFactory(name="vip"))
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})
    campaign = broadcast(actor=marketer, segment=segment, channels=["email"])

    campaign = campaign_start(campaign=campaign, actor=marketer)

    assert (campaign.status, campaign.audience_size, campaign.snapshot.size) == (
        CampaignStatus.RUNNING,
        1,
        1,
    )
    assert campaign.snapshot.segment == segment and campaign.started_at is not None
    assert list(
        SnapshotMember.objects.filter(snapshot=campaign.snapshot).values_list(
            "customer_id", flat=True
        )
    ) == [vip.pk]
    # After the start: another member joins the segment, and the segment itself changes.
    later_vip.tags.add(TagFactory(name="vip"))
    segment_save(actor=marketer, rules=EVERYONE, names={"name_en": "VIP"}, segment=segment)

    campaign_send_task(campaign.pk)

    assert list(
        Message.objects.filter(campaign=campaign).values_list("customer_id", flat=True)
    ) == [vip.pk]
    assert [m.to for m in mail.outbox] == [[vip.email]]
    campaign.refresh_from_db()
    assert campaign.audience_size == 1 and campaign.status == CampaignStatus.COMPLETED


def test_a_journey_switches_on_without_a_snapshot_and_never_completes(marketer):
    campaign = campaign_start(campaign=journey(trigger="welcome", actor=marketer), actor=marketer)
    assert (campaign.status, campaign.snapshot_id, campaign.audience_size) == (
        CampaignStatus.RUNNING,
        None,
        0,
    )
    assert campaign_complete(campaign=campaign) is False


def test_start_needs_a_draft_or_scheduled_campaign_with_a_variant(marketer):
    campaign = campaign_start(campaign=broadcast(actor=marketer), actor=marketer)
    with pytest.raises(CampaignStateConflict):
        campaign_start(campaign=campaign, actor=marketer)

    bare = broadcast(actor=marketer)
    Variant.objects.filter(campaign=bare).delete()
    with pytest.raises(CampaignStateConflict):
        campaign_start(campaign=bare, actor=marketer)
    bare.refresh_from_db()
    assert (bare.status, bare.snapshot_id) == (CampaignStatus.DRAFT, None)


# --- scheduling ----------------------------------------------------------------------------


def test_a_scheduled_broadcast_starts_when_its_time_comes(marketer):
    (customer,) = reachable(1, "email")
    at = timezone.now() + dt.timedelta(hours=1)
    campaign = broadcast(actor=marketer, channels=["email"], scheduled_at=at)
    assert campaign.status == CampaignStatus.SCHEDULED

    assert campaigns_due(now=at - dt.timedelta(seconds=1)) == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED

    assert campaigns_due(now=at) == [campaign.pk]

    campaign.refresh_from_db()
    assert (campaign.status, campaign.started_at, campaign.audience_size) == (
        CampaignStatus.RUNNING,
        at,
        1,
    )
    assert _audit(campaign) == ["campaign.create", "campaign.start"]
    campaign_send_task(campaign.pk)
    assert [m.to for m in mail.outbox] == [[customer.email]]


def test_the_tick_starts_and_sends_a_due_broadcast(marketer):
    (customer,) = reachable(1, "email")
    campaign = broadcast(
        actor=marketer, channels=["email"], scheduled_at=timezone.now() + dt.timedelta(hours=1)
    )
    Campaign.objects.filter(pk=campaign.pk).update(  # an hour later
        scheduled_at=timezone.now() - dt.timedelta(seconds=1)
    )

    assert campaigns_tick() == [campaign.pk]

    assert [m.to for m in mail.outbox] == [[customer.email]]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaigns_tick() == []


def test_unscheduling_makes_a_draft_again(marketer):
    campaign = broadcast(
        actor=marketer, scheduled_at=timezone.now() + dt.timedelta(days=1), channels=["email"]
    )
    campaign = campaign_save(
        actor=marketer,
        campaign=campaign,
        names=NAMES,
        settings={"scheduled_at": None},
        variants=[dict(VARIANT)],
    )
    assert campaign.status == CampaignStatus.DRAFT
    assert campaigns_due(now=timezone.now() + dt.timedelta(days=2)) == []


# --- pause, resume, cancel and the audit trail ---------------------------------------------


def test_every_transition_leaves_an_audit_row_and_wrong_ones_are_refused(marketer, manager):
    campaign = broadcast(actor=marketer)
    with pytest.raises(CampaignStateConflict):
        campaign_pause(campaign=campaign, actor=marketer)
    with pytest.raises(CampaignStateConflict):
        campaign_resume(campaign=campaign, actor=marketer)

    campaign_start(campaign=campaign, actor=marketer)
    with pytest.raises(CampaignStateConflict):
        campaign_resume(campaign=campaign, actor=marketer)
    campaign_pause(campaign=campaign, actor=marketer)
    with pytest.raises(CampaignStateConflict):
        campaign_pause(campaign=campaign, actor=marketer)
    campaign_resume(campaign=campaign, actor=marketer)
    campaign_cancel(campaign=campaign, actor=manager)
    for action in (campaign_start, campaign_pause, campaign_resume, campaign_cancel):
        with pytest.raises(CampaignStateConflict):
            action(campaign=campaign, actor=manager)

    assert _audit(campaign) == [
        "campaign.create",
        "campaign.start",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]
    actors = AuditEvent.objects.filter(target_id=str(campaign.pk), action__startswith="campaign.")
    assert [e.actor for e in actors.order_by("pk")] == [marketer] * 4 + [manager]
    start = actors.get(action="campaign.start")
    campaign.refresh_from_db()
    assert start.after == {"audience": campaign.audience_size, "snapshot": campaign.snapshot_id}
    assert (campaign.status, campaign.finished_at is not None) == (CampaignStatus.CANCELLED, True)


def test_a_draft_can_be_cancelled_and_nothing_is_ever_sent(marketer):
    reachable(1, "email")
    campaign = campaign_cancel(campaign=broadcast(actor=marketer), actor=marketer)

    assert campaign.status == CampaignStatus.CANCELLED
    assert campaign_send_task(campaign.pk) == {"placed": 0, "sent": 0, "more": False}
    assert not Message.objects.filter(campaign=campaign).exists()


def test_a_completed_broadcast_is_complete_only_when_placed_and_sent(marketer):
    reachable(2, "email")
    campaign = campaign_start(
        campaign=broadcast(actor=marketer, channels=["email"]), actor=marketer
    )
    assert campaign_complete(campaign=campaign) is False  # nobody placed yet

    campaign_send_task(campaign.pk)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.placed_at is not None) == (CampaignStatus.COMPLETED, True)
    assert set(campaign.messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    with pytest.raises(CampaignStateConflict):
        campaign_cancel(campaign=campaign, actor=marketer)

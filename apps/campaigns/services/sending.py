"""The send loop a Celery task runs for one campaign: place the broadcast's audience (chunk by
chunk, resumable: a chunk skips whoever is placed), then deliver due messages in paced batches
until nothing is due, the campaign is paused, or the time slice ends (the task then queues
itself again). Completing, starting scheduled broadcasts and recovering dead claims are the
tick's work."""

import time
from dataclasses import dataclass

from django.db.models import Max, Q
from django.utils import timezone

from apps.analytics.models import SnapshotMember

from ..enums import CampaignKind, CampaignStatus, MessageStatus
from ..models import Campaign, Message
from .delivery import Pacer, claims_recover, messages_deliver
from .lifecycle import campaign_complete, campaign_start
from .queueing import messages_queue

PLACE_CHUNK = 2000
DELIVER_BATCH = 500
BROADCAST_STEP = "send"


@dataclass
class SendSlice:
    placed: int = 0
    sent: int = 0
    more: bool = False


def _status(campaign_id: int) -> str | None:
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()


def broadcast_place_chunk(*, campaign: Campaign) -> tuple[int, bool, bool]:
    """Place the next chunk of the snapshot (customers after the highest one placed). Returns
    (placed, finished, busy); ``busy`` when another sender is placing this campaign now."""
    last = (
        Message.objects.filter(campaign=campaign, step=BROADCAST_STEP).aggregate(
            last=Max("customer_id")
        )["last"]
        or 0
    )
    ids = list(
        SnapshotMember.objects.filter(snapshot_id=campaign.snapshot_id, customer_id__gt=last)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)[:PLACE_CHUNK]
    )
    if not ids:
        Campaign.objects.filter(pk=campaign.pk, placed_at__isnull=True).update(
            placed_at=timezone.now()
        )
        return 0, True, False
    outcome = messages_queue(campaign=campaign, customer_ids=ids, step=BROADCAST_STEP, wait=False)
    return outcome.placed, False, outcome.busy


def campaign_send(
    *,
    campaign_id: int,
    seconds: float = 50.0,
    batch: int = DELIVER_BATCH,
    pacer: Pacer | None = None,
) -> SendSlice:
    """Place and deliver, interleaved, until nothing is left, the campaign stops running or the
    slice's time is up (``more``). Several senders may run at once (Celery workers): one places
    a chunk while the others deliver what is queued; claims and the campaign lock keep them
    apart."""
    out = SendSlice()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.RUNNING:
        return out
    deadline = time.monotonic() + seconds
    pacer = pacer or Pacer()
    placing = campaign.kind == CampaignKind.BROADCAST and campaign.placed_at is None
    while True:
        busy = False
        progress = 0
        if placing:
            placed, finished, busy = broadcast_place_chunk(campaign=campaign)
            out.placed += placed
            progress += placed
            placing = not finished
        delivered = messages_deliver(campaign_id=campaign_id, limit=pacer.batch_size(batch))
        if delivered.claimed:
            out.sent += sum(delivered.by_status.values())
            pacer.after(delivered.by_channel)
            progress += delivered.claimed
        running = _status(campaign_id) == CampaignStatus.RUNNING
        if not running:
            return out
        if not progress and not placing:
            break
        if not progress and busy:
            time.sleep(0.02)  # another sender is placing the next chunk
        if time.monotonic() > deadline:
            out.more = True
            return out
    campaign_complete(campaign=campaign)
    return out


def campaigns_due(*, now=None) -> list[int]:
    """The tick: start scheduled broadcasts whose time has come, recover dead claims, complete
    what is done, and return the running campaigns with work to do now."""
    now = now or timezone.now()
    for campaign in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now):
        campaign_start(campaign=campaign, actor=None, now=now)
    claims_recover(now=now)
    due = []
    for campaign in Campaign.objects.filter(status=CampaignStatus.RUNNING):
        unplaced = campaign.kind == CampaignKind.BROADCAST and campaign.placed_at is None
        waiting = campaign.messages.filter(
            Q(claimed_at__isnull=True), status=MessageStatus.QUEUED, not_before__lte=now
        ).exists()
        if unplaced or waiting:
            due.append(campaign.pk)
        elif campaign.kind == CampaignKind.BROADCAST:
            campaign_complete(campaign=campaign, now=now)
    return due

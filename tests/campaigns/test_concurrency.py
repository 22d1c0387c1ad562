"""Real threads against PostgreSQL: the frequency cap across campaigns placing at once, senders
splitting one campaign, and duplicate placing of the same chunk or event."""

import uuid

import pytest
from django.core import mail

from apps.campaigns.enums import MessageStatus, Suppression
from apps.campaigns.models import Message
from apps.campaigns.services.journeys import journeys_on_event
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.services.queueing import messages_queue
from apps.campaigns.services.sending import campaign_send
from apps.core.events import Event
from apps.loyalty.models import Coupon
from tests.campaigns.factories import (
    broadcast,
    campaign_settings,
    journey,
    no_quiet_hours,
    reachable,
)
from tests.concurrency import outcome_kinds, run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


def _running(actor, n=1, **settings):
    return [
        campaign_start(campaign=broadcast(actor=actor, channels=["email"], **settings), actor=actor)
        for _ in range(n)
    ]


@pytest.mark.parametrize(("campaigns", "cap"), [(2, 1), (4, 2)])
def test_campaigns_placing_the_same_customers_at_once_never_exceed_the_cap(
    marketer, campaigns, cap
):
    campaign_settings(frequency_cap=cap)
    ids = [c.pk for c in reachable(20, "email")]
    running = _running(marketer, campaigns)

    def place(i):
        # Chunk by chunk, each campaign in another order (the locks are taken sorted).
        order = ids if i % 2 else list(reversed(ids))
        chunks = [order[k : k + 4] for k in range(0, len(order), 4)]
        return sum(
            messages_queue(campaign=running[i], customer_ids=c, step="send").placed
            for c in [*chunks, order]
        )

    outcomes = run_concurrently(campaigns, place)

    assert outcome_kinds(outcomes) == {"ok": campaigns}
    assert [placed for _s, placed in outcomes] == [20] * campaigns
    rows = Message.objects.filter(campaign__in=running)
    assert rows.count() == 20 * campaigns
    for customer_id in ids:
        mine = rows.filter(customer_id=customer_id)
        assert mine.filter(status=MessageStatus.QUEUED).count() == cap
        assert mine.filter(
            status=MessageStatus.SUPPRESSED, reason=Suppression.FREQUENCY_CAP
        ).count() == (campaigns - cap)


def test_two_senders_of_one_campaign_send_each_message_exactly_once(marketer, sms_outbox):
    by_email = reachable(24, "email")
    by_sms = reachable(6, "sms")
    campaign = campaign_start(campaign=broadcast(actor=marketer), actor=marketer)

    outcomes = run_concurrently(2, lambda i: campaign_send(campaign_id=campaign.pk, batch=4))

    assert outcome_kinds(outcomes) == {"ok": 2}
    assert sum(out.placed for _s, out in outcomes) == 30
    assert sum(out.sent for _s, out in outcomes) == 30
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in by_email)
    assert sorted(s.to for s in sms_outbox) == sorted(c.phone for c in by_sms)
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        MessageStatus.SENT
    }
    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_placing_the_same_chunk_at_once_creates_one_row_and_one_coupon_per_customer(marketer):
    ids = [c.pk for c in reachable(20, "email")]
    (campaign,) = _running(
        marketer, offer_kind="coupon", coupon_kind="fixed", coupon_value=5, holdout_percent=0
    )

    outcomes = run_concurrently(
        4, lambda i: messages_queue(campaign=campaign, customer_ids=ids, step="send").placed
    )

    assert outcome_kinds(outcomes) == {"ok": 4}
    assert sorted(placed for _s, placed in outcomes) == [0, 0, 0, 20]
    assert Message.objects.filter(campaign=campaign).count() == 20
    assert sorted(
        Message.objects.filter(campaign=campaign).values_list("customer_id", flat=True)
    ) == sorted(ids)
    assert Coupon.objects.filter(source_ref=f"campaign:{campaign.pk}").count() == 20


def test_one_event_delivered_by_several_workers_at_once_places_the_customer_once(marketer):
    campaign = campaign_start(
        campaign=journey(trigger="after_purchase", actor=marketer), actor=marketer
    )
    (customer,) = reachable(1, "email")
    # The same outbox event handed to three workers (a redelivery racing the first delivery).
    event = Event(
        id=str(uuid.uuid4()),
        name="order.recorded",
        payload={"order_id": 1, "customer_id": customer.pk, "store_id": 1},
    )

    outcomes = run_concurrently(3, lambda i: journeys_on_event(event))

    assert outcome_kinds(outcomes) == {"ok": 3}
    assert sorted(len(started) for _s, started in outcomes) == [0, 0, 1]
    (message,) = Message.objects.filter(campaign=campaign)
    assert (message.customer_id, message.step) == (customer.pk, "order:1")

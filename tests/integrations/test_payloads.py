"""What a receiver learns: public identifiers and plain values, never the member's name, e-mail
address, phone number or city; every offered event is published by its owning service."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.complaints.services.lifecycle import ticket_status_set
from apps.complaints.services.tickets import ticket_open
from apps.customers.services import consent_record, customer_erase
from apps.integrations.catalogue import WEBHOOK_EVENTS
from apps.integrations.models import Delivery
from apps.loyalty.services import order_ingest, redemption_fulfil, refund_ingest, reward_redeem
from apps.surveys.services.responses import response_submit
from tests.complaints.factories import CategoryFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory, TierFactory
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db

PERSONAL = ["Wei", "Zhang", "wei.zhang@example.org", "+8613812345678", "13812345678", "Shanghai"]


@pytest.fixture
def journey(
    receiver, make_endpoint, customer, store, administrator, django_capture_on_commit_callbacks
):
    """Wei buys (and climbs a tier), refunds part, redeems a gift that is handed over, files a
    complaint, changes a consent, and is erased; the endpoint hears all of it."""
    ProgrammeFactory(pending_days=0)
    TierFactory(slug="member", rank=0)
    TierFactory(slug="silver", rank=1, threshold=Decimal(500), retention_threshold=Decimal(400))
    endpoint = make_endpoint(receiver.url, events=list(WEBHOOK_EVENTS))
    with django_capture_on_commit_callbacks(execute=True):
        order, _, _ = order_ingest(
            store=store,
            external_id="W-1",
            customer=customer,
            placed_at=timezone.now(),
            total=Decimal("1000.00"),
        )
    with django_capture_on_commit_callbacks(execute=True):
        refund_ingest(order=order, refund_id="R-1", amount=Decimal("100.00"))
    with django_capture_on_commit_callbacks(execute=True):
        redemption = reward_redeem(
            customer=customer, reward=RewardFactory(slug="tea-set", cost_points=100), key="k1"
        )
    with django_capture_on_commit_callbacks(execute=True):
        redemption_fulfil(redemption=redemption, actor=administrator)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_open(
            customer=customer,
            category=CategoryFactory(code="delivery"),
            subject="Late parcel for Wei Zhang",
            description="Call me on +8613812345678",
            channel="phone",
            order=order,
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket_status_set(ticket=ticket, actor=administrator, status="resolved")
    survey = nps_survey(slug="store-visit")
    q = questions(survey)
    with django_capture_on_commit_callbacks(execute=True):
        response_submit(
            invitation=InvitationFactory(survey=survey, customer=customer),
            answers={str(q[0].pk): "3", str(q[1].pk): "2", str(q[4].pk): "Wei Zhang was rude"},
        )
    with django_capture_on_commit_callbacks(execute=True):
        consent_record(
            customer=customer,
            channel="email",
            purpose="marketing",
            granted=True,
            source="staff",
            actor=administrator,
        )
    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(customer=customer, actor=administrator)
    return (
        endpoint,
        {r.headers["Clientele-Event"]: json.loads(r.body) for r in receiver.requests},
        ticket,
    )


def test_every_offered_event_reaches_the_endpoint_with_public_ids_and_nothing_personal(journey):
    _endpoint, bodies, ticket = journey
    assert set(bodies) == set(WEBHOOK_EVENTS)
    for name, body in bodies.items():
        assert body["type"] == name
        assert body["data"]["member_number"] == "1234567897", name
        text = json.dumps(body, ensure_ascii=False)
        for value in PERSONAL:
            assert value not in text, (name, value)
    stored = json.dumps(list(Delivery.objects.values_list("payload", flat=True)))
    assert not any(value in stored for value in PERSONAL)

    assert bodies["refund.clawed_back"]["data"]["order"] == {"external_id": "W-1", "store": "sh-01"}
    assert bodies["refund.clawed_back"]["data"]["refund"]["refund_id"] == "R-1"
    assert bodies["refund.clawed_back"]["data"]["points_reversed"] == (
        bodies["order.earned"]["data"]["points_earned"] // 10
    )
    assert bodies["tier.changed"]["data"]["new_tier"] == "silver"
    assert bodies["redemption.created"]["data"]["redemption"]["reward"] == "tea-set"
    assert bodies["redemption.fulfilled"]["data"]["redemption"]["status"] == "fulfilled"
    assert bodies["ticket.opened"]["data"]["ticket"]["reference"] == ticket.reference
    assert bodies["ticket.opened"]["data"]["ticket"]["category"] == "delivery"
    assert bodies["ticket.resolved"]["data"]["ticket"]["status"] == "resolved"
    assert bodies["survey.response_completed"]["data"]["survey"] == "store-visit"
    assert bodies["survey.response_completed"]["data"]["score_group"] == "detractor"
    assert bodies["consent.changed"]["data"] == {
        "member_number": "1234567897",
        "channel": "email",
        "purpose": "marketing",
        "granted": True,
        "source": "staff",
    }
    assert bodies["customer.erased"]["data"] == {"member_number": "1234567897"}

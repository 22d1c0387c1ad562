"""Invariant 7: SLA clocks run in business time of the policy's calendar, stop while waiting on
the customer, and a breach is recorded once."""

import pytest

from apps.complaints.enums import Clock, EventKind, Notify, Priority, TicketStatus
from apps.complaints.models import EscalationLevel, TicketEvent
from apps.complaints.services.conversation import customer_reply, staff_reply
from apps.complaints.services.lifecycle import ticket_status_set
from apps.complaints.services.sla import policy_match
from apps.complaints.services.sweeps import sla_sweep
from apps.complaints.services.tickets import ticket_triage
from tests.loyalty.factories import TierFactory

from ..conftest import at
from ..factories import CategoryFactory, SLAPolicyFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_due_times_count_business_minutes_over_the_weekend(open_ticket):
    ticket = open_ticket("2026-09-25 17:30")  # Friday, half an hour before closing
    assert ticket.first_response_due == at("2026-09-28 09:30")  # Monday
    # 480 business minutes: 30 on Friday, then Monday 09:00–12:00 and 13:00–17:30.
    assert ticket.resolution_due == at("2026-09-28 17:30")


def test_a_ticket_filed_at_night_counts_from_the_next_opening(open_ticket):
    ticket = open_ticket("2026-09-29 22:15")  # Tuesday night
    assert ticket.first_response_due == at("2026-09-30 10:00")


def test_holiday_and_make_up_sunday(open_ticket):
    ticket = open_ticket("2026-09-30 17:30")  # Wed; Thu 1 Oct is a holiday
    assert ticket.first_response_due == at("2026-10-02 09:30")
    sunday = open_ticket("2026-10-10 12:00")  # Saturday; Sunday 11 Oct is a working day
    assert sunday.first_response_due == at("2026-10-11 10:00")


def test_first_matching_policy_wins_and_a_category_covers_its_children(customer, open_ticket):
    parent = CategoryFactory(code="product")
    child = CategoryFactory(code="product-broken", parent=parent)
    urgent = SLAPolicyFactory(position=1, priorities=[Priority.URGENT], first_response_minutes=15)
    product = SLAPolicyFactory(position=2, first_response_minutes=30)
    product.categories.add(parent)
    catch_all = SLAPolicyFactory(position=3)
    ticket = open_ticket(category=child)
    assert ticket.sla_policy == product
    ticket.priority = Priority.URGENT
    assert policy_match(ticket=ticket) == urgent
    other = open_ticket()
    assert other.sla_policy in (catch_all, SLAPolicyFactory._meta.model.objects.get(position=10))


def test_a_tier_condition_matches_only_members_of_that_tier(customer, open_ticket):
    gold = TierFactory(slug="gold-sla")
    golden = SLAPolicyFactory(position=1, first_response_minutes=10)
    golden.tiers.add(gold)
    assert open_ticket().sla_policy != golden


def test_waiting_on_the_customer_pauses_the_resolution_clock(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")  # Monday: resolution due 18:00
    assert ticket.resolution_due == at("2026-09-28 18:00")
    staff_reply(
        ticket=ticket,
        author=agent,
        body="Could you send a photo?",
        then=TicketStatus.WAITING,
        at=at("2026-09-28 11:00"),
    )
    ticket.refresh_from_db()
    assert ticket.resolution_due is None and ticket.resolution_left == 360
    # The member answers on Wednesday at 10:00: six business hours left from then.
    customer_reply(ticket=ticket, body="Here it is.", at=at("2026-09-30 10:00"))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.resolution_due == at("2026-09-30 17:00")
    assert ticket.paused_minutes == 360 + 480 + 60  # Mon 11:00 → Wed 10:00 in business time
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert EventKind.CLOCK_PAUSED in kinds and EventKind.CLOCK_RESUMED in kinds


def test_a_waiting_ticket_is_never_breached_by_the_sweep(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")
    staff_reply(
        ticket=ticket,
        author=agent,
        body="Photo please",
        then=TicketStatus.WAITING,
        at=at("2026-09-28 09:10"),
    )
    assert sla_sweep(now=at("2026-10-09 12:00")) == {
        "first_response": 0,
        "resolution": 0,
        "escalated": 0,
    }


def test_a_breach_is_recorded_once(open_ticket):
    ticket = open_ticket("2026-09-28 09:00")
    assert sla_sweep(now=at("2026-09-28 09:59"))["first_response"] == 0
    assert sla_sweep(now=at("2026-09-28 10:00"))["first_response"] == 1
    assert sla_sweep(now=at("2026-09-28 10:30"))["first_response"] == 0
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at == at("2026-09-28 10:00")
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.BREACHED).count() == 1


def test_a_late_reply_before_the_sweep_records_the_breach_itself(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")
    staff_reply(ticket=ticket, author=agent, body="Sorry for the wait.", at=at("2026-09-28 14:00"))
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at == at("2026-09-28 10:00")
    assert ticket.first_response_minutes == 240  # 09:00–12:00 and 13:00–14:00
    assert sla_sweep(now=at("2026-09-28 15:00"))["first_response"] == 0
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.BREACHED).count() == 1


def test_resolving_in_time_measures_business_minutes_without_the_wait(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")
    staff_reply(
        ticket=ticket,
        author=agent,
        body="Photo?",
        then=TicketStatus.WAITING,
        at=at("2026-09-28 10:00"),
    )
    customer_reply(ticket=ticket, body="Sent.", at=at("2026-09-29 09:00"))
    ticket = ticket_status_set(
        ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=at("2026-09-29 10:00")
    )
    assert ticket.resolution_minutes == 120
    assert ticket.resolution_breached_at is None


def test_raising_the_priority_applies_the_stricter_policy_from_creation(open_ticket, agent):
    SLAPolicyFactory(
        position=1, priorities=[Priority.URGENT], first_response_minutes=15, resolution_minutes=120
    )
    ticket = open_ticket("2026-09-28 09:00")
    assert ticket.first_response_due == at("2026-09-28 10:00")
    ticket = ticket_triage(
        ticket=ticket, actor=agent, priority=Priority.URGENT, at=at("2026-09-28 09:05")
    )
    assert ticket.first_response_due == at("2026-09-28 09:15")
    assert ticket.resolution_due == at("2026-09-28 11:00")


def test_escalation_fires_at_its_percentage_in_opening_hours_only(
    open_ticket, policy, mailoutbox, agent, django_capture_on_commit_callbacks
):
    lead = agent
    team = TeamFactory(lead=lead)
    EscalationLevel.objects.create(
        policy=policy, clock=Clock.RESOLUTION, percent=75, notify=Notify.TEAM_LEAD
    )
    ticket = open_ticket("2026-09-28 09:00")
    ticket.team = team
    ticket.save(update_fields=["team"])
    # 75% of 480 business minutes = 360: Monday 16:00.
    assert ticket.next_escalation_at == at("2026-09-28 16:00")
    assert sla_sweep(now=at("2026-09-28 15:59"))["escalated"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_sweep(now=at("2026-09-28 16:01"))["escalated"] == 1
    assert sla_sweep(now=at("2026-09-28 16:30"))["escalated"] == 0
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1 and ticket.next_escalation_at is None
    assert [m.to for m in mailoutbox] == [[lead.email]]
    assert ticket.reference in mailoutbox[0].subject


def test_an_escalation_due_at_night_waits_for_the_opening(open_ticket, policy, mailoutbox):
    EscalationLevel.objects.create(
        policy=policy, clock=Clock.FIRST_RESPONSE, percent=100, notify=Notify.MANAGERS
    )
    ticket = open_ticket("2026-09-28 17:00")  # first response due at closing time, 18:00
    assert ticket.next_escalation_at == at("2026-09-28 18:00")
    assert sla_sweep(now=at("2026-09-28 18:30"))["escalated"] == 0
    ticket.refresh_from_db()
    assert ticket.next_escalation_at == at("2026-09-29 09:00")
    assert sla_sweep(now=at("2026-09-29 09:01"))["escalated"] == 1
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1

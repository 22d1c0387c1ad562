import datetime as dt

import pytest

from apps.complaints.enums import EventKind, TicketStatus
from apps.complaints.exceptions import ReopenRefused, TransitionRefused
from apps.complaints.models import ComplaintSettings
from apps.complaints.services.conversation import customer_reply, staff_reply
from apps.complaints.services.lifecycle import (
    ticket_rate,
    ticket_reopen_by_member,
    ticket_status_set,
    tickets_auto_close,
)
from apps.core.exceptions import ValidationFailed
from apps.core.models import OutboxEvent

from ..conftest import at

pytestmark = pytest.mark.django_db


def test_staff_reply_opens_the_ticket_stops_the_first_clock_and_mails_the_member(
    open_ticket, agent, mailoutbox, customer, django_capture_on_commit_callbacks
):
    ticket = open_ticket("2026-09-28 09:00")
    with django_capture_on_commit_callbacks(execute=True):
        staff_reply(ticket=ticket, author=agent, body="We are on it.", at=at("2026-09-28 09:20"))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.first_responded_at == at("2026-09-28 09:20")
    assert ticket.first_response_minutes == 20
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [customer.email] and ticket.reference in mail.subject
    assert "We are on it." in mail.body
    assert mail.reply_to and mail.reply_to[0].startswith("reply+")


def test_an_internal_note_is_not_mailed_and_does_not_count_as_a_response(
    open_ticket, agent, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = open_ticket("2026-09-28 09:00")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        staff_reply(ticket=ticket, author=agent, body="Check the courier.", internal=True)
    assert callbacks == []
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None and ticket.status == TicketStatus.NEW
    assert mailoutbox == []


def test_impossible_moves_are_refused(open_ticket, agent):
    ticket = open_ticket()
    with pytest.raises(TransitionRefused):
        ticket_status_set(ticket=ticket, actor=agent, status=TicketStatus.CLOSED)
    with pytest.raises(ValidationFailed):
        ticket_status_set(ticket=ticket, actor=agent, status="archived")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.NEW


def test_resolving_publishes_ticket_resolved_and_mails_rating_links(
    open_ticket, agent, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = open_ticket("2026-09-28 09:00")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_status_set(
            ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=at("2026-09-28 11:00")
        )
    event = OutboxEvent.objects.get(name="ticket.resolved")
    assert event.payload == {"ticket_id": ticket.pk, "customer_id": ticket.customer_id}
    assert len(mailoutbox) == 1 and "/5" in mailoutbox[0].body


def test_member_reopens_within_the_window_only(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")
    ticket_status_set(
        ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=at("2026-09-28 11:00")
    )
    days = ComplaintSettings.get().reopen_days
    ticket = ticket_reopen_by_member(ticket=ticket, at=at("2026-09-29 09:00"))
    assert ticket.status == TicketStatus.OPEN and ticket.reopened_count == 1
    ticket_status_set(
        ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=at("2026-09-29 10:00")
    )
    late = at("2026-09-29 10:00") + dt.timedelta(days=days, minutes=1)
    with pytest.raises(ReopenRefused):
        ticket_reopen_by_member(ticket=ticket, at=late)
    with pytest.raises(TransitionRefused):
        customer_reply(ticket=ticket, body="Still broken", at=late)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.messages.count() == 0


def test_a_member_reply_to_a_resolved_ticket_reopens_it(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")
    ticket_status_set(
        ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=at("2026-09-28 11:00")
    )
    customer_reply(ticket=ticket, body="Not fixed.", at=at("2026-09-28 12:00"))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.events.filter(kind=EventKind.REOPENED).count() == 1
    assert ticket.resolution_due is not None


def test_the_same_email_delivered_twice_is_one_message(open_ticket):
    ticket = open_ticket()
    first = customer_reply(ticket=ticket, body="hi", email_message_id="<a@mail>")
    again = customer_reply(ticket=ticket, body="hi", email_message_id="<a@mail>")
    assert first is not None and again is None
    assert ticket.messages.count() == 1


def test_rating_needs_a_resolved_ticket_and_a_score_from_1_to_5(open_ticket, agent):
    ticket = open_ticket()
    with pytest.raises(TransitionRefused):
        ticket_rate(ticket=ticket, score=5)
    ticket_status_set(ticket=ticket, actor=agent, status=TicketStatus.RESOLVED)
    with pytest.raises(ValidationFailed):
        ticket_rate(ticket=ticket, score=6)
    ticket = ticket_rate(ticket=ticket, score=4, comment="Quick")
    assert (ticket.satisfaction, ticket.satisfaction_comment) == (4, "Quick")


def test_resolved_tickets_close_after_the_configured_days(open_ticket, agent):
    ticket = open_ticket("2026-09-28 09:00")
    ticket_status_set(
        ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=at("2026-09-28 10:00")
    )
    days = ComplaintSettings.get().auto_close_days
    assert tickets_auto_close(now=at("2026-09-28 10:00") + dt.timedelta(days=days - 1)) == 0
    assert tickets_auto_close(now=at("2026-09-28 10:00") + dt.timedelta(days=days)) == 1
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED

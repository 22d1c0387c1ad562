"""Exactly once under real concurrency on PostgreSQL: one assignee, one compensation."""

from decimal import Decimal

import pytest

from apps.accounts.roles import MANAGER, SUPPORT_AGENT
from apps.complaints.enums import CompensationKind, CompensationStatus
from apps.complaints.models import ComplaintSettings, Ticket
from apps.complaints.services.compensation import compensation_decide, compensation_request
from apps.complaints.services.tickets import ticket_take
from apps.loyalty.enums import TxKind
from apps.loyalty.models import PointsTransaction
from tests.concurrency import outcome_kinds, run_concurrently
from tests.conftest import make_staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_agents_taking_the_same_ticket_at_once_leave_one_assignee(open_ticket):
    ticket = open_ticket()
    agents = [make_staff(SUPPORT_AGENT, email=f"a{i}@test.local") for i in range(8)]
    outcomes = run_concurrently(
        8, lambda i: ticket_take(ticket=ticket, agent=agents[i]).assignee_id
    )
    assert outcome_kinds(outcomes) == {"ok": 1, "AlreadyAssigned": 7}
    winner = next(value for status, value in outcomes if status == "ok")
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == winner
    assert ticket.events.filter(kind="assigned").count() == 1


def test_concurrent_approvals_issue_the_compensation_once(open_ticket):
    settings = ComplaintSettings.get()
    settings.compensation_limit = Decimal("1")
    settings.save()
    agent = make_staff(SUPPORT_AGENT, email="req@test.local")
    managers = [make_staff(MANAGER, email=f"m{i}@test.local") for i in range(6)]
    comp = compensation_request(
        ticket=open_ticket(),
        actor=agent,
        kind=CompensationKind.POINTS,
        points=5000,
        reason="Goodwill",
    )
    outcomes = run_concurrently(
        6, lambda i: compensation_decide(compensation=comp, actor=managers[i], approve=True).status
    )
    assert outcome_kinds(outcomes) == {"ok": 1, "AlreadyDecided": 5}
    comp.refresh_from_db()
    assert comp.status == CompensationStatus.ISSUED
    assert PointsTransaction.objects.filter(kind=TxKind.COMPENSATE).count() == 1

from decimal import Decimal

import pytest

from apps.complaints.enums import CompensationKind, CompensationStatus
from apps.complaints.exceptions import AlreadyDecided, NotAllowed
from apps.complaints.models import Compensation, ComplaintSettings
from apps.complaints.services.compensation import compensation_decide, compensation_request
from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.enums import TxKind
from apps.loyalty.models import Coupon, LoyaltyAccount, PointsTransaction, Programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(db):
    programme = Programme.get()
    programme.point_value = Decimal("0.01")
    programme.save()
    settings = ComplaintSettings.get()
    settings.compensation_limit = Decimal("50")
    settings.save()


def test_points_within_the_limit_are_issued_at_once_through_the_ledger(open_ticket, agent, limits):
    ticket = open_ticket()
    comp = compensation_request(
        ticket=ticket, actor=agent, kind=CompensationKind.POINTS, points=500, reason="Late delivery"
    )
    assert comp.status == CompensationStatus.ISSUED and comp.value == Decimal("5.00")
    tx = PointsTransaction.objects.get(kind=TxKind.COMPENSATE)
    assert tx.points == 500 and tx.source_ref == ticket.reference
    assert LoyaltyAccount.objects.get(customer=ticket.customer).balance == 500
    assert AuditEvent.objects.filter(action="complaints.compensation_requested").count() == 1


def test_above_the_limit_it_waits_for_another_manager(open_ticket, agent, manager, limits):
    ticket = open_ticket()
    comp = compensation_request(
        ticket=ticket, actor=agent, kind=CompensationKind.COUPON, amount=80, reason="Broken vase"
    )
    assert comp.status == CompensationStatus.PENDING and not Coupon.objects.exists()
    with pytest.raises(NotAllowed):
        compensation_decide(compensation=comp, actor=agent, approve=True)
    comp = compensation_decide(compensation=comp, actor=manager, approve=True)
    coupon = Coupon.objects.get()
    assert comp.status == CompensationStatus.ISSUED and comp.coupon == coupon
    assert (
        coupon.owner == ticket.customer and coupon.value == Decimal("80") and coupon.max_uses == 1
    )
    with pytest.raises(AlreadyDecided):
        compensation_decide(compensation=comp, actor=manager, approve=True)
    assert Coupon.objects.count() == 1


def test_a_manager_cannot_approve_their_own_request_above_the_limit_but_it_is_issued(
    open_ticket, manager, limits
):
    ticket = open_ticket()
    comp = compensation_request(
        ticket=ticket,
        actor=manager,
        kind=CompensationKind.REFUND,
        amount=300,
        reason="Refunded at the till",
    )
    assert comp.status == CompensationStatus.ISSUED  # a manager's own authority
    assert comp.value == Decimal("300.00")


def test_a_rejection_issues_nothing(open_ticket, agent, manager, limits):
    ticket = open_ticket()
    comp = compensation_request(
        ticket=ticket, actor=agent, kind=CompensationKind.POINTS, points=100_000, reason="Goodwill"
    )
    comp = compensation_decide(compensation=comp, actor=manager, approve=False)
    assert comp.status == CompensationStatus.REJECTED
    assert not PointsTransaction.objects.filter(kind=TxKind.COMPENSATE).exists()
    assert AuditEvent.objects.filter(action="complaints.compensation_rejected").count() == 1


@pytest.mark.parametrize(
    ("kind", "points", "amount", "reason", "field"),
    [
        ("points", 0, 0, "x", "points"),
        ("coupon", 0, 0, "x", "amount"),
        ("coupon", 0, 10, " ", "reason"),
        ("cash", 0, 1, "x", "kind"),
    ],
)
def test_bad_requests_write_nothing(
    open_ticket, agent, limits, kind, points, amount, reason, field
):
    ticket = open_ticket()
    with pytest.raises(ValidationFailed) as refused:
        compensation_request(
            ticket=ticket, actor=agent, kind=kind, points=points, amount=amount, reason=reason
        )
    assert refused.value.extra["field"] == field
    assert (
        not Compensation.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="complaints.").exists()
    )


def test_a_marketer_cannot_compensate(open_ticket, marketer, limits):
    with pytest.raises(NotAllowed):
        compensation_request(
            ticket=open_ticket(), actor=marketer, kind="points", points=10, reason="x"
        )
    assert not Compensation.objects.exists()

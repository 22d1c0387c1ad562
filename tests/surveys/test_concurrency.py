"""Exactly once for surveys under real concurrency on PostgreSQL (invariant 2).

Each test runs its calls on real threads, each with its own database connection (closed when
the thread's work ends); every worker waits on one start signal so the calls hit the database
together. Every outcome — result or exception — is collected and asserted exactly.
"""

import pytest

from apps.core.models import OutboxEvent
from apps.customers.models import PortalMessage
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from apps.loyalty.verification import ledger_faults
from apps.surveys.enums import InvitationStatus
from apps.surveys.exceptions import AlreadyAnswered
from apps.surveys.models import Invitation, Response
from apps.surveys.selectors import invitation_get_by_token
from apps.surveys.services.invitations import (
    invitation_for_receipt,
    invitations_after_purchase,
    invitations_send_to_customers,
)
from apps.surveys.services.responses import response_submit
from tests.concurrency import outcome_kinds, run_concurrently
from tests.conftest import roles_restore
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.loyalty.factories import ProgrammeFactory
from tests.surveys.factories import InvitationFactory, consent_surveys, nps_survey, questions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8


@pytest.fixture(autouse=True)
def _roles_after_flush():
    """The flush that ends a transactional test empties the role groups; put them back for the
    tests that follow (a test here needs none)."""
    yield
    roles_restore()


def _answers(survey) -> dict[str, str]:
    q = questions(survey)
    return {str(q[0].pk): "10", str(q[1].pk): "5"}


@pytest.mark.parametrize("anonymous", [False, True])
def test_the_same_link_submitted_16_times_at_once_is_answered_and_rewarded_once(anonymous):
    ProgrammeFactory()
    survey = nps_survey(reward_points=50, anonymous=anonymous)
    invitation = InvitationFactory(survey=survey)
    member = invitation.customer
    answers = _answers(survey)

    def submit(_i):
        # As the portal does: each request reads the link itself.
        link = invitation_get_by_token(token=invitation.token)
        return response_submit(invitation=link, answers=answers).pk

    outcomes = run_concurrently(16, submit, workers=WORKERS)

    assert outcome_kinds(outcomes) == {"ok": 1, "AlreadyAnswered": 15}
    assert all(isinstance(v, AlreadyAnswered) for s, v in outcomes if s == "error")
    assert Response.objects.count() == 1
    assert PointsTransaction.objects.filter(account__customer=member).count() == 1
    assert LoyaltyAccount.objects.get(customer=member).balance == 50
    assert Response.objects.get().reward_points == 50
    assert list(ledger_faults()) == []


def test_two_manual_runs_at_once_invite_each_member_once():
    ProgrammeFactory()
    survey = nps_survey()
    members = [CustomerFactory() for _ in range(60)]
    for member in members:
        consent_surveys(member)
    ids = [m.pk for m in members]

    outcomes = run_concurrently(
        4,
        lambda _i: invitations_send_to_customers(survey=survey, customer_ids=ids),
        workers=WORKERS,
    )

    assert outcome_kinds(outcomes) == {"ok": 4}
    results = [value for _status, value in outcomes]
    assert sum(len(r.sent) for r in results) == 60
    assert sum(len(r.sent) + r.existing for r in results) == 4 * 60
    assert Invitation.objects.count() == 60
    assert set(Invitation.objects.values_list("customer_id", flat=True)) == set(ids)
    invited = OutboxEvent.objects.filter(name="survey.invited")
    sent_ids = [i for event in invited for i in event.payload["invitation_ids"]]
    assert sorted(sent_ids) == sorted(Invitation.objects.values_list("pk", flat=True))


def test_two_after_purchase_runs_at_once_invite_once_per_order():
    ProgrammeFactory()
    survey = nps_survey(trigger="after_purchase", delay_days=1)
    members = [CustomerFactory() for _ in range(30)]
    orders = []
    for member in members:
        consent_surveys(member)
        orders.append(OrderFactory(customer=member))
        orders.append(OrderFactory(customer=member))  # the second: within the cooldown

    outcomes = run_concurrently(
        3, lambda _i: invitations_after_purchase()[survey.slug], workers=WORKERS
    )

    assert outcome_kinds(outcomes) == {"ok": 3}
    assert Invitation.objects.count() == 60
    assert set(Invitation.objects.values_list("order_id", flat=True)) == {o.pk for o in orders}
    # One sent per member (the second order falls in the cooldown), each announced once.
    sent = Invitation.objects.filter(status=InvitationStatus.SENT)
    assert sorted(sent.values_list("customer_id", flat=True)) == sorted(m.pk for m in members)
    assert PortalMessage.objects.count() == sent.filter(channel="portal").count()
    invited = OutboxEvent.objects.filter(name="survey.invited")
    announced = [i for event in invited for i in event.payload["invitation_ids"]]
    assert sorted(announced) == sorted(sent.filter(channel="email").values_list("pk", flat=True))


def test_the_same_receipt_printed_at_once_on_8_tills_is_one_link():
    ProgrammeFactory()
    survey = nps_survey()
    order = OrderFactory()

    outcomes = run_concurrently(
        8, lambda _i: invitation_for_receipt(survey=survey, order=order).token, workers=WORKERS
    )

    assert outcome_kinds(outcomes) == {"ok": 8}
    assert len({token for _status, token in outcomes}) == 1
    invitation = Invitation.objects.get()
    assert (invitation.order_id, invitation.customer_id) == (order.pk, order.customer_id)
    assert invitation.token == outcomes[0][1]

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from apps.customers.models import PortalMessage
from apps.loyalty.models import Programme
from apps.surveys.enums import EmailStatus, InvitationChannel, InvitationStatus, SkipReason
from apps.surveys.exceptions import AlreadyAnswered, NotEligible, OrderMemberMismatch
from apps.surveys.models import Invitation
from apps.surveys.services.invitations import (
    invitation_for_receipt,
    invitations_after_purchase,
    invitations_send_to_customers,
    receipt_link,
)
from apps.surveys.services.responses import response_submit
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.surveys.factories import consent_surveys, nps_survey

pytestmark = pytest.mark.django_db


def test_manual_invitations_check_consent_and_send_email_after_commit(
    django_capture_on_commit_callbacks,
):
    survey = nps_survey()
    yes, no = CustomerFactory(), CustomerFactory()
    consent_surveys(yes)
    with django_capture_on_commit_callbacks(execute=True):
        result = invitations_send_to_customers(survey=survey, customer_ids=[yes.pk, no.pk])
    assert len(result.sent) == 1 and result.skipped == {SkipReason.NO_CONSENT: 1}
    sent = Invitation.objects.get(customer=yes)
    assert sent.channel == InvitationChannel.EMAIL and sent.email_status == EmailStatus.SENT
    assert len(mail.outbox) == 1 and sent.token in mail.outbox[0].body
    assert "List-Unsubscribe" in mail.outbox[0].extra_headers
    assert Invitation.objects.get(customer=no).status == InvitationStatus.SKIPPED
    again = invitations_send_to_customers(survey=survey, customer_ids=[yes.pk, no.pk])
    assert again.existing == 2 and Invitation.objects.count() == 2


def test_cooldown_spans_surveys(member):
    _user, member = member
    first, second = nps_survey(), nps_survey()
    consent_surveys(member)
    invitations_send_to_customers(survey=first, customer_ids=[member.pk])
    result = invitations_send_to_customers(survey=second, customer_ids=[member.pk])
    assert result.skipped == {SkipReason.COOLDOWN: 1}
    Programme.objects.update(survey_cooldown_days=0)
    third = nps_survey()
    assert len(invitations_send_to_customers(survey=third, customer_ids=[member.pk]).sent) == 1


def test_portal_only_member_gets_inbox_message(member):
    _user, member = member
    survey = nps_survey(invite_channels=[InvitationChannel.PORTAL])
    consent_surveys(member)
    result = invitations_send_to_customers(survey=survey, customer_ids=[member.pk])
    invitation = Invitation.objects.get(pk=result.sent[0])
    message = PortalMessage.objects.get(customer=member)
    assert invitation.token in message.body_en and invitation.token in message.body_zh_hans


def test_after_purchase_invites_once_per_order_with_delay():
    survey = nps_survey(trigger="after_purchase", delay_days=2)
    customer = CustomerFactory()
    consent_surveys(customer)
    old = OrderFactory(customer=customer, placed_at=timezone.now() - dt.timedelta(days=3))
    OrderFactory(customer=customer, placed_at=timezone.now() - dt.timedelta(hours=1))
    out = invitations_after_purchase()
    assert len(out[survey.slug].sent) == 1
    assert Invitation.objects.get().order_id == old.pk
    assert invitations_after_purchase()[survey.slug].sent == []
    assert Invitation.objects.count() == 1


def test_receipt_link_reprint_and_anonymous():
    survey = nps_survey()
    order = OrderFactory()
    first = invitation_for_receipt(survey=survey, order=order)
    assert invitation_for_receipt(survey=survey, order=order).pk == first.pk
    anonymous = invitation_for_receipt(survey=survey)
    assert anonymous.customer_id is None and anonymous.token != first.token
    other = OrderFactory(customer=order.customer)
    with pytest.raises(NotEligible):
        invitation_for_receipt(survey=survey, order=other)
    assert Invitation.objects.get(order=other).skip_reason == SkipReason.COOLDOWN


def test_receipt_reprint_after_an_anonymous_answer_is_refused_not_reissued():
    survey = nps_survey(anonymous=True)
    order = OrderFactory()
    first = invitation_for_receipt(survey=survey, order=order)
    q = [question.pk for question in survey.questions.order_by("position", "id")]
    response_submit(invitation=first, answers={str(q[0]): "9", str(q[1]): "4"})

    with pytest.raises(AlreadyAnswered):
        invitation_for_receipt(survey=survey, order=order)
    assert Invitation.objects.filter(survey=survey).count() == 1


def test_receipt_for_another_members_order_is_refused_and_writes_nothing():
    survey = nps_survey()
    order = OrderFactory()
    with pytest.raises(OrderMemberMismatch):
        receipt_link(survey=survey, customer=CustomerFactory(), order=order)
    assert not Invitation.objects.exists()
    link = receipt_link(survey=survey, order=order)
    assert link.created and link.invitation.customer_id == order.customer_id
    assert not receipt_link(survey=survey, order=order).created

"""The survey jobs: they run the services, are safe to run twice, and are scheduled."""

import datetime as dt
from importlib import import_module

import pytest
from django.apps import apps
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.customers.models import ConsentRecord
from apps.surveys import tasks
from apps.surveys.enums import EmailStatus, InvitationStatus, SkipReason
from apps.surveys.models import AskedMark, Invitation
from apps.surveys.services.invitations import invitations_send_to_customers
from apps.surveys.services.responses import response_submit
from config.celery import app as celery_app
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.loyalty.factories import ProgrammeFactory
from tests.surveys.factories import InvitationFactory, consent_surveys, nps_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def after_purchase(db):
    ProgrammeFactory()
    return nps_survey(slug="after-buy", trigger="after_purchase", delay_days=1)


def _orders(n: int, *, consent: bool = True, days_ago: int = 2):
    customers = [CustomerFactory() for _ in range(n)]
    for customer in customers:
        if consent:
            consent_surveys(customer)
            # Consent held for a month, so a run dated in the past finds it too.
            ConsentRecord.objects.filter(customer=customer).update(
                at=timezone.now() - dt.timedelta(days=30)
            )
        OrderFactory(customer=customer, placed_at=timezone.now() - dt.timedelta(days=days_ago))
    return customers


# --- schedule --------------------------------------------------------------------------------


def test_migration_schedules_both_jobs_with_registered_tasks():
    rows = {t.task: t for t in PeriodicTask.objects.filter(name__startswith="surveys:")}
    assert set(rows) == {"surveys.invitations_after_purchase", "surveys.invitation_emails_sweep"}
    daily = rows["surveys.invitations_after_purchase"].crontab
    assert (daily.hour, daily.minute, str(daily.timezone)) == ("10", "0", "Asia/Shanghai")
    sweep = rows["surveys.invitation_emails_sweep"].interval
    assert (sweep.every, sweep.period) == (10, "minutes")
    assert set(rows) <= set(celery_app.tasks)


def test_schedule_migration_is_rerunnable_without_duplicates():
    migration = import_module("apps.surveys.migrations.0003_beat_schedule")
    PeriodicTask.objects.filter(task="surveys.invitation_emails_sweep").update(enabled=False)
    migration.schedule(apps, None)
    assert PeriodicTask.objects.filter(name__startswith="surveys:").count() == 2
    assert PeriodicTask.objects.get(task="surveys.invitation_emails_sweep").enabled


# --- after purchase ----------------------------------------------------------------------------


def test_after_purchase_job_invites_once_however_often_it_runs(after_purchase):
    _orders(3)
    _orders(1, consent=False)

    first = tasks.invitations_after_purchase.delay().get()
    again = tasks.invitations_after_purchase()

    assert first == {"after-buy": {"sent": 3, "skipped": {SkipReason.NO_CONSENT: 1}, "existing": 0}}
    assert again == {"after-buy": {"sent": 0, "skipped": {}, "existing": 0}}
    assert Invitation.objects.filter(status=InvitationStatus.SENT).count() == 3
    assert Invitation.objects.count() == 4


def test_after_purchase_job_takes_an_iso_date(after_purchase):
    _orders(2, days_ago=10)
    day = (timezone.localdate() - dt.timedelta(days=8)).isoformat()
    assert tasks.invitations_after_purchase(as_of=day)["after-buy"]["sent"] == 2
    with pytest.raises(ValueError, match="not an ISO date"):
        tasks.invitations_after_purchase(as_of="yesterday")


def test_after_purchase_job_skips_while_another_run_holds_the_lock(after_purchase):
    _orders(2)
    cache.add("lock:surveys:after-purchase", 1, 60)
    assert tasks.invitations_after_purchase() is None
    assert not Invitation.objects.exists()
    cache.delete("lock:surveys:after-purchase")
    assert tasks.invitations_after_purchase()["after-buy"]["sent"] == 2


# --- e-mail sweep ------------------------------------------------------------------------------


def test_sweep_sends_emails_whose_outbox_delivery_was_lost_once(after_purchase):
    """The job wrote invitations an hour ago and published ``survey.invited``, but the
    delivery never ran (no on-commit here): the sweep sends each e-mail, once."""
    customers = _orders(3, days_ago=3)
    hour_ago = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    assert tasks.invitations_after_purchase(as_of=hour_ago)["after-buy"]["sent"] == 3
    assert Invitation.objects.filter(email_status=EmailStatus.QUEUED).count() == 3
    assert mail.outbox == []

    assert tasks.invitation_emails_sweep.delay().get() == {EmailStatus.SENT: 3}
    assert tasks.invitation_emails_sweep() == {}

    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
    assert not Invitation.objects.filter(email_status=EmailStatus.QUEUED).exists()


def test_sweep_leaves_young_emails_to_the_outbox_and_rechecks_consent(after_purchase):
    young = InvitationFactory(email_status=EmailStatus.QUEUED)
    old = InvitationFactory(
        email_status=EmailStatus.QUEUED, created_at=timezone.now() - dt.timedelta(minutes=30)
    )  # no consent recorded

    assert tasks.invitation_emails_sweep() == {EmailStatus.SUPPRESSED: 1}

    young.refresh_from_db()
    old.refresh_from_db()
    assert (young.email_status, old.email_status) == (EmailStatus.QUEUED, EmailStatus.SUPPRESSED)
    assert mail.outbox == []


def test_an_answered_anonymous_survey_does_not_reinvite_for_the_same_order():
    ProgrammeFactory()
    survey = nps_survey(slug="anon-buy", trigger="after_purchase", delay_days=1, anonymous=True)
    _orders(1)
    tasks.invitations_after_purchase()
    invitation = Invitation.objects.get(survey=survey)
    asked_about = (survey.pk, invitation.order_id, invitation.context)
    q = [question.pk for question in survey.questions.order_by("position", "id")]
    response_submit(invitation=invitation, answers={str(q[0]): "9", str(q[1]): "4"})

    assert tasks.invitations_after_purchase()["anon-buy"]["sent"] == 0
    assert Invitation.objects.filter(survey=survey).count() == 1
    mark = AskedMark.objects.get()
    assert (mark.survey_id, mark.order_id, mark.context) == asked_about
    invitation.refresh_from_db()
    assert (invitation.customer_id, invitation.order_id) == (None, None)


def test_an_anonymous_answer_still_counts_for_the_cooldown_of_other_surveys():
    programme = ProgrammeFactory()
    programme.survey_cooldown_days = 30
    programme.save()
    anonymous = nps_survey(slug="anon", anonymous=True)
    later = nps_survey(slug="later")
    (customer,) = _orders(1)
    result = invitations_send_to_customers(survey=anonymous, customer_ids=[customer.pk])
    invitation = Invitation.objects.get(pk=result.sent[0])
    q = [question.pk for question in anonymous.questions.order_by("position", "id")]
    response_submit(invitation=invitation, answers={str(q[0]): "3", str(q[1]): "1"})

    again = invitations_send_to_customers(survey=later, customer_ids=[customer.pk])

    assert again.sent == [] and dict(again.skipped) == {SkipReason.COOLDOWN: 1}

"""The weekly at-risk list: who makes it, the suggested action, assignment, the managers' mail
with the list attached (through the at-risk report subscription), and the health reasons from
the other apps' facts."""

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone

from apps.accounts.roles import MANAGER
from apps.analytics.enums import Reason, ReportKind, SuggestedAction
from apps.analytics.health import Facts, health_assess
from apps.analytics.models import (
    AnalyticsSettings,
    AtRiskEntry,
    CustomerMetrics,
    ReportSubscription,
)
from apps.analytics.services.at_risk import at_risk_assign, at_risk_build, week_of
from apps.analytics.services.reports import report_send_due
from apps.analytics.tasks import at_risk_weekly
from apps.analytics.wording import reason_text
from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.customers.models import Interaction
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

MONDAY = week_of(timezone.localdate())


def metrics(band="high", clv="1000", since=None, p_alive=0.2, reasons=None, **over):
    return CustomerMetrics.objects.create(
        customer=CustomerFactory(),
        as_of=timezone.localdate(),
        computed_at=timezone.now(),
        churn_risk=0.9 if band == "high" else 0.2,
        churn_band=band,
        band_since=since or timezone.localdate(),
        predicted_clv=Decimal(clv),
        p_alive=p_alive,
        health_score=20,
        reasons=reasons or [{"code": "overdue", "days": 120, "usual": 30}],
        **over,
    )


def test_the_list_takes_the_top_share_by_value_of_those_who_just_turned_high_risk():
    AnalyticsSettings.objects.create(at_risk_top_share=Decimal("0.50"))
    top = [metrics(clv=str(v)) for v in (900, 800)]
    metrics(clv="100")  # at high risk, but in the bottom half by value
    metrics(clv="50")
    metrics(clv="850", since=MONDAY - dt.timedelta(days=30))  # high risk for a month already
    metrics(band="low", clv="99999")  # valuable but not at risk

    assert at_risk_build(week=MONDAY) == 2

    listed = set(AtRiskEntry.objects.values_list("customer_id", flat=True))
    assert listed == {m.customer_id for m in top}


def test_building_twice_adds_nobody_twice():
    metrics(clv="900")
    at_risk_build(week=MONDAY)
    metrics(clv="950")

    assert at_risk_build(week=MONDAY) == 2
    assert AtRiskEntry.objects.filter(week=MONDAY).count() == 2


@pytest.mark.parametrize(
    ("reasons", "p_alive", "action"),
    [
        ([{"code": "detractor", "score": 2}], 0.1, SuggestedAction.CALL),
        ([{"code": "overdue", "days": 90, "usual": 30}], 0.6, SuggestedAction.COUPON),
        ([{"code": "overdue", "days": 300, "usual": 30}], 0.05, SuggestedAction.WINBACK),
    ],
)
def test_suggested_action_follows_the_reasons_and_the_odds(reasons, p_alive, action):
    AnalyticsSettings.objects.create(at_risk_top_share=Decimal("1.00"))
    for clv in (5000, 4000, 3000):  # the top third of the list's value gets a call anyway
        metrics(clv=str(clv), p_alive=0.5)
    subject = metrics(clv="10", reasons=reasons, p_alive=p_alive)

    at_risk_build(week=MONDAY)

    assert AtRiskEntry.objects.get(customer=subject.customer).action == action


def test_assigning_logs_a_task_on_the_360_page_and_audits(agent, manager):
    metrics(clv="900")
    at_risk_build(week=MONDAY)
    entry = AtRiskEntry.objects.get()

    at_risk_assign(entry=entry, assignee=agent, actor=manager)

    entry.refresh_from_db()
    assert entry.assigned_to == agent and entry.assigned_at is not None
    task = Interaction.objects.get(customer=entry.customer)
    assert task.kind == "task" and task.author == manager
    assert agent.display_name in task.summary
    assert AuditEvent.objects.filter(action="analytics.at_risk_assign").count() == 1


def test_assigning_to_a_member_is_refused_and_changes_nothing(manager, member_user):
    metrics(clv="900")
    at_risk_build(week=MONDAY)
    entry = AtRiskEntry.objects.get()

    with pytest.raises(ValidationFailed):
        at_risk_assign(entry=entry, assignee=member_user, actor=manager)

    entry.refresh_from_db()
    assert entry.assigned_to is None
    assert not Interaction.objects.exists() and not AuditEvent.objects.exists()


def managers_subscription() -> ReportSubscription:
    """The at-risk subscription to Managers the migration made (``0009_report_schedule``),
    set to be due now: today at midnight, this week's list not sent yet."""
    subscription, _created = ReportSubscription.objects.update_or_create(
        report=ReportKind.AT_RISK,
        role=Group.objects.get_or_create(name=MANAGER)[0],
        defaults={"frequency": "weekly", "addresses": [], "active": True},
    )
    subscription.weekday, subscription.hour = timezone.localdate().weekday(), 0
    subscription.last_sent_period = ""
    subscription.save()
    return subscription


def test_managers_get_the_list_by_mail_with_the_workbook(manager, agent):
    managers_subscription()
    customer = metrics(clv="900").customer
    at_risk_build(week=MONDAY)
    OrderFactory(customer=customer, placed_at=timezone.now())  # came back already

    assert report_send_due(reports=[ReportKind.AT_RISK])["emails"] == 1

    message = mail.outbox[0]
    assert message.to == [manager.email]
    assert customer.member_number in message.body
    name, content, mimetype = message.attachments[0]
    assert name == f"at-risk-{MONDAY.isoformat()}.xlsx" and mimetype.endswith("sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == customer.member_number
    assert "no purchase for 120 days, usually every 30" in rows[1][5]
    assert rows[1][8] == "Yes"


def test_no_mail_for_an_empty_list(manager):
    managers_subscription()
    assert report_send_due(reports=[ReportKind.AT_RISK])["emails"] == 0 and mail.outbox == []


def test_the_weekly_job_builds_and_mails_once(manager):
    managers_subscription()
    metrics(clv="900")

    done = at_risk_weekly(MONDAY.isoformat())
    again = at_risk_weekly(MONDAY.isoformat())

    assert done == {"week": MONDAY.isoformat(), "customers": 1, "emails": 1}
    assert again == {"week": MONDAY.isoformat(), "customers": 1, "emails": 0}
    assert len(mail.outbox) == 1


def test_health_reasons_come_from_the_other_apps_facts():
    facts = Facts(
        open_tickets=1, breached_tickets=1, nps_score=3, nps_group="detractor", points_expiring=500
    )

    score, reasons = health_assess(
        churn_risk=0.3, days_since_last=143, frequency=4, span_days=120, p_alive=0.8, facts=facts
    )

    assert [r["code"] for r in reasons] == [
        Reason.OVERDUE,
        Reason.BREACHED_TICKET,
        Reason.DETRACTOR,
    ]
    assert score == 70 - 20 - 15 - 5
    assert reason_text(reasons[0]) == "no purchase for 143 days, usually every 30"
    assert reason_text(reasons[1]) == "1 open complaint past its SLA"
    assert reason_text(reasons[2]) == "detractor in the last NPS survey (scored 3)"


def test_a_healthy_regular_has_no_reasons():
    score, reasons = health_assess(
        churn_risk=0.1, days_since_last=10, frequency=10, span_days=200, p_alive=0.95, facts=Facts()
    )

    assert (score, reasons) == (90, [])


def test_a_risky_customer_without_a_named_cause_gets_the_models_reason():
    score, reasons = health_assess(
        churn_risk=0.82,
        days_since_last=20,
        frequency=6,
        span_days=200,
        p_alive=0.7,
        facts=Facts(),
        horizon_days=90,
    )

    assert reasons == [{"code": Reason.LIKELY_TO_LAPSE, "percent": 82, "days": 90}]
    assert reason_text(reasons[0]) == "82% chance of no purchase in the next 90 days"
    assert score == 18

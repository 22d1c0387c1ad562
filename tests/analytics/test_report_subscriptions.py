"""Scheduled reports: when a subscription is due in the business time zone (Asia/Shanghai in
tests), what the e-mail holds (figures, the workbook, each recipient's language), exactly once per
period under concurrent runs, failures recorded and retried for those who missed it, the checks
on a subscription, the audit rows and the default subscription the migration makes."""

import datetime as dt
import importlib
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone, translation
from django_celery_beat.models import PeriodicTask

from apps.accounts.roles import MANAGER, SUPPORT_AGENT
from apps.analytics import report_content
from apps.analytics.enums import DeliveryStatus, ReportKind
from apps.analytics.exceptions import (
    ReportAddressInvalid,
    ReportRecipientsMissing,
    ReportScheduleInvalid,
)
from apps.analytics.exports import kpi_rows
from apps.analytics.kpi_board import kpi_board
from apps.analytics.models import (
    AnalyticsSettings,
    CustomerMetrics,
    ReportDelivery,
    ReportSubscription,
)
from apps.analytics.report_periods import Period, period_current
from apps.analytics.services.reports import (
    report_send,
    report_send_due,
    report_send_test,
    report_subscription_create,
    report_subscription_delete,
    report_subscription_update,
    report_subscriptions_due,
    subscription_period,
)
from apps.analytics.tasks import reports_send_due
from apps.core.models import AuditEvent
from tests.concurrency import outcome_kinds, run_concurrently
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, OrderFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def at(year, month, day, hour=0, minute=0, tz=UTC) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


def weekly(**over):
    return {"frequency": "weekly", "weekday": 0, "day_of_month": None, "hour": 8, **over}


def monthly(**over):
    return {"frequency": "monthly", "weekday": None, "day_of_month": 1, "hour": 8, **over}


def subscribe(report=ReportKind.KPI, addresses=("boss@example.org",), **over):
    """The only subscription: the migration's default one (at-risk to Managers) is removed."""
    ReportSubscription.objects.all().delete()
    schedule = {"frequency": "weekly", "weekday": 0, "hour": 8, **over}
    if not isinstance(addresses, str):
        addresses = list(addresses)
    return report_subscription_create(actor=None, report=report, addresses=addresses, **schedule)


# --- when: the business time zone ----------------------------------------------------------


def test_the_business_time_zone_is_shanghai_in_tests():
    assert settings.TIME_ZONE == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        # Monday 9 March 2026, 07:59 in Shanghai (Sunday 23:59 UTC): not yet, the week before.
        (at(2026, 3, 8, 23, 59), dt.date(2026, 2, 23), dt.date(2026, 3, 1)),
        # 08:00 in Shanghai is still Monday 00:00 UTC: the week just ended is due.
        (at(2026, 3, 9, 0, 0), dt.date(2026, 3, 2), dt.date(2026, 3, 8)),
        # Any later day of that week: the same period.
        (at(2026, 3, 15, 15, 59), dt.date(2026, 3, 2), dt.date(2026, 3, 8)),
        # Monday 16 March 00:00 in Shanghai (Sunday 16:00 UTC): a new week, not 08:00 yet.
        (at(2026, 3, 15, 16, 0), dt.date(2026, 3, 2), dt.date(2026, 3, 8)),
    ],
)
def test_a_weekly_period_turns_at_its_hour_in_the_business_time_zone(now, start, end):
    period = period_current(**weekly(), now=now)
    assert (period.start, period.end, period.key) == (start, end, f"{start:%G}-W{start:%V}")


def test_a_weekly_report_at_midnight_counts_the_local_day_not_the_utc_one():
    # Sunday 16:30 UTC is Monday 00:30 in Shanghai: Monday's midnight report is due.
    period = period_current(**weekly(hour=0), now=at(2026, 3, 8, 16, 30))
    assert (period.start, period.end) == (dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    # One hour earlier it is Sunday 23:30 in Shanghai: still the week before.
    earlier = period_current(**weekly(hour=0), now=at(2026, 3, 8, 15, 30))
    assert earlier.end == dt.date(2026, 3, 1)


def test_a_weekly_report_on_wednesday_covers_the_last_whole_week():
    period = period_current(**weekly(weekday=2, hour=9), now=at(2026, 3, 11, 1, 0, SHANGHAI))
    assert period.end == dt.date(2026, 3, 1)  # Wednesday 01:00: not 09:00 yet
    period = period_current(**weekly(weekday=2, hour=9), now=at(2026, 3, 11, 9, 0, SHANGHAI))
    assert (period.start, period.end) == (dt.date(2026, 3, 2), dt.date(2026, 3, 8))


@pytest.mark.parametrize(
    ("now", "key", "start", "end"),
    [
        # 1 April 07:30 in Shanghai (31 March 23:30 UTC): March's report is not due yet.
        (at(2026, 3, 31, 23, 30), "2026-02", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (at(2026, 4, 1, 0, 0), "2026-03", dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
        (at(2026, 4, 30, 12, 0), "2026-03", dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
        # January's report, sent on 1 January, covers December of the year before.
        (at(2026, 1, 1, 0, 0), "2025-12", dt.date(2025, 12, 1), dt.date(2025, 12, 31)),
    ],
)
def test_a_monthly_period_is_the_calendar_month_before(now, key, start, end):
    period = period_current(**monthly(), now=now)
    assert (period.key, period.start, period.end) == (key, start, end)


def test_a_monthly_report_on_the_28th_waits_for_it():
    schedule = monthly(day_of_month=28, hour=18)
    assert period_current(**schedule, now=at(2026, 3, 28, 9, 59)).key == "2026-01"
    assert period_current(**schedule, now=at(2026, 3, 28, 10, 0)).key == "2026-02"


@pytest.mark.django_db
def test_due_until_sent_then_not_until_the_next_period():
    subscription = subscribe()
    monday = at(2026, 3, 9, 0, 30)  # 08:30 in Shanghai
    assert report_subscriptions_due(now=monday) == [
        (subscription, Period("weekly", dt.date(2026, 3, 2), dt.date(2026, 3, 8)))
    ]

    report_send(subscription=subscription, period=subscription_period(subscription, monday))

    assert report_subscriptions_due(now=monday + dt.timedelta(days=3)) == []
    next_monday = monday + dt.timedelta(days=7)
    assert [p.key for _s, p in report_subscriptions_due(now=next_monday)] == ["2026-W11"]


@pytest.mark.django_db
def test_a_paused_subscription_is_never_due():
    subscription = subscribe()
    report_subscription_update(
        subscription=subscription,
        actor=None,
        report=ReportKind.KPI,
        frequency="weekly",
        weekday=0,
        hour=8,
        addresses=["boss@example.org"],
        active=False,
    )
    assert report_subscriptions_due(now=at(2026, 3, 9, 1)) == []


# --- what: content and the workbook --------------------------------------------------------


def _week_with_orders():
    """Last week (as of now in Shanghai) with three orders in it, one the week before."""
    period = period_current(**weekly(hour=0), now=timezone.now())
    noon = dt.datetime.combine(period.start + dt.timedelta(days=2), dt.time(12), SHANGHAI)
    for total in ("100", "200", "300"):
        OrderFactory(customer=CustomerFactory(), total=Decimal(total), placed_at=noon)
    OrderFactory(
        customer=CustomerFactory(), total=Decimal("50"), placed_at=noon - dt.timedelta(days=7)
    )
    return period


def _workbook(content: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


@pytest.mark.django_db
def test_the_kpi_summary_has_the_figures_and_the_workbook_of_the_export():
    period = _week_with_orders()
    subscription = subscribe(hour=0, weekday=timezone.localdate().weekday())

    delivery = report_send(subscription=subscription, period=period)

    assert delivery.status == DeliveryStatus.SENT and delivery.sent_to == ["boss@example.org"]
    (message,) = mail.outbox
    assert message.to == ["boss@example.org"]
    assert message.subject == f"KPI summary: {report_content.period_label(period)}"
    html = message.alternatives[0][0]
    assert "Revenue from members: ¥600" in message.body and "¥600" in html
    assert "Orders: 3 (+200.0% vs the period before)" in message.body  # 1 order the week before
    (name, content, mimetype) = message.attachments[0]
    assert name == f"kpi-{period.key}.xlsx" and mimetype.endswith("sheet")
    rows = _workbook(content)
    header, expected = kpi_rows(kpi_board(day=period.end, window=7))
    assert list(rows[0]) == [str(h) for h in header]
    last = rows[-1]
    assert last[0].date() == period.end
    revenue = header.index(next(h for h in header if str(h).startswith("Revenue")))
    orders = header.index("Orders")
    assert (last[orders], float(last[revenue])) == (3, 600.0)
    assert float(expected[-1][revenue]) == 600.0 and len(rows) == len(expected) + 1


def _at_risk_metrics(n: int) -> None:
    for i in range(n):
        CustomerMetrics.objects.create(
            customer=CustomerFactory(),
            as_of=timezone.localdate(),
            computed_at=timezone.now(),
            churn_risk=0.9,
            churn_band="high",
            band_since=timezone.localdate(),
            predicted_clv=Decimal(1000 + i),
            p_alive=0.2,
            health_score=20,
            reasons=[{"code": "overdue", "days": 120, "usual": 30}],
        )


@pytest.mark.django_db
def test_the_at_risk_report_builds_the_list_and_sends_the_top_20_with_the_whole_list_attached():
    AnalyticsSettings.get()
    AnalyticsSettings.objects.update(at_risk_top_share=Decimal("1"))
    _at_risk_metrics(22)
    subscription = subscribe(report=ReportKind.AT_RISK)
    period = period_current(
        **weekly(hour=0, weekday=timezone.localdate().weekday()), now=timezone.now()
    )

    report_send(subscription=subscription, period=period)

    (message,) = mail.outbox
    week = report_content.at_risk_week(period)
    assert message.subject == f"At-risk customers for the week of {week.isoformat()}: 22"
    assert "22 customers joined the at-risk list" in message.body
    assert "… and 2 more in the attachment." in message.body
    rows = _workbook(message.attachments[0][1])
    assert len(rows) == 23  # header + the whole list
    body_members = [line.split(" | ")[0] for line in message.body.splitlines() if " | " in line]
    assert body_members[1:] == [r[0] for r in rows[1:21]]  # the top 20, in the workbook's order


@pytest.mark.django_db
def test_an_empty_at_risk_list_sends_nothing_and_is_not_sent_again():
    subscription = subscribe(report=ReportKind.AT_RISK)
    now = timezone.now()
    period = subscription_period(subscription, now)

    delivery = report_send(subscription=subscription, period=period)

    assert delivery.status == DeliveryStatus.SKIPPED and mail.outbox == []
    assert report_subscriptions_due(now=now) == []
    assert not AuditEvent.objects.filter(action="export.scheduled_report").exists()


@pytest.mark.django_db
def test_the_complaints_report_attaches_every_table_of_the_reports_page():
    subscription = subscribe(report=ReportKind.COMPLAINTS, frequency="monthly", day_of_month=1)
    period = subscription_period(subscription, timezone.now())

    report_send(subscription=subscription, period=period)

    (message,) = mail.outbox
    assert message.subject.startswith("Complaints report: ")
    assert "Complaints filed: 0" in message.body
    names = [name for name, _c, _m in message.attachments]
    assert len(names) == 7 and all(n.startswith(f"complaints-{period.key}-") for n in names)
    assert f"complaints-{period.key}-sla-team.xlsx" in names


# --- who: recipients and their language ----------------------------------------------------


@pytest.mark.django_db
def test_each_recipient_gets_it_in_their_language(monkeypatch):
    english = make_staff(MANAGER, email="en.manager@test.local", language="en")
    chinese = make_staff(MANAGER, email="zh.manager@test.local", language="zh-hans")
    make_staff(MANAGER, email="gone@test.local", is_active=False)
    make_staff(SUPPORT_AGENT, email="agent.x@test.local")
    rendered = []
    real = report_content.report_render

    def spy(data):
        rendered.append(translation.get_language())
        return real(data)

    monkeypatch.setattr("apps.analytics.services.reports.report_render", spy)
    subscription = report_subscription_create(
        actor=None,
        report=ReportKind.KPI,
        frequency="weekly",
        weekday=0,
        hour=8,
        role=Group.objects.get(name=MANAGER),
        addresses=["Partner@Example.org", "zh.manager@test.local"],
        language="zh-hans",
    )

    report_send(subscription=subscription, period=subscription_period(subscription, timezone.now()))

    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {english.email, chinese.email, "partner@example.org"}
    assert sorted(rendered) == ["en", "zh-hans"]  # rendered once per language
    assert by_address[english.email].subject.startswith("KPI summary")
    for address in (chinese.email, "partner@example.org"):  # the user's own, the subscription's
        assert 'lang="zh-hans"' in by_address[address].alternatives[0][0]
    assert 'lang="en"' in by_address[english.email].alternatives[0][0]
    assert translation.get_language() == "en"  # the worker's language is left as it was


# --- exactly once ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_time_send_a_period_once():
    """Beat fired twice (and a third worker picked up a retry): eight runs on real threads."""
    subscription = subscribe(addresses=["a@example.org", "b@example.org"])
    now = timezone.now()
    period = subscription_period(subscription, now)

    outcomes = run_concurrently(8, lambda i: report_send_due(now=now), workers=8)

    assert outcome_kinds(outcomes) == {"ok": 8}
    results = [value for _kind, value in outcomes]
    assert sum(r["sent"] for r in results) == 1
    assert sum(r["emails"] for r in results) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.org", "b@example.org"]
    delivery = ReportDelivery.objects.get()
    assert (delivery.period, delivery.status, delivery.attempts) == (period.key, "sent", 1)
    subscription.refresh_from_db()
    assert subscription.last_sent_period == period.key
    assert AuditEvent.objects.filter(action="export.scheduled_report").count() == 1


@pytest.mark.django_db
def test_a_second_run_sends_nothing():
    subscribe()
    now = timezone.now()
    first, second = report_send_due(now=now), report_send_due(now=now)
    assert (first["sent"], first["emails"]) == (1, 1)
    assert second == {
        "due": 0,
        "sent": 0,
        "skipped": 0,
        "failed": 0,
        "claimed_elsewhere": 0,
        "emails": 0,
    }
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_failed_recipient_is_recorded_and_only_they_get_the_retry(monkeypatch):
    subscription = subscribe(addresses=["good@example.org", "bad@example.org"])
    now = timezone.now()
    real_send = EmailMessage.send

    def flaky(self, fail_silently=False):
        if self.to == ["bad@example.org"]:
            raise ConnectionError("relay said no")
        return real_send(self, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", flaky)
    done = report_send_due(now=now)

    delivery = ReportDelivery.objects.get(subscription=subscription)
    assert done["failed"] == 1 and delivery.status == DeliveryStatus.PARTIAL
    assert delivery.sent_to == ["good@example.org"] and delivery.failed_to == ["bad@example.org"]
    assert "relay said no" in delivery.error
    assert [m.to for m in mail.outbox] == [["good@example.org"]]

    monkeypatch.setattr(EmailMessage, "send", real_send)
    assert [s.pk for s, _p in report_subscriptions_due(now=now)] == [subscription.pk]
    again = report_send_due(now=now)

    delivery.refresh_from_db()
    assert again["sent"] == 1 and delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2 and delivery.failed_to == []
    assert [m.to for m in mail.outbox] == [["good@example.org"], ["bad@example.org"]]
    assert report_subscriptions_due(now=now) == []


@pytest.mark.django_db
def test_the_beat_task_sends_what_is_due():
    subscribe()
    assert reports_send_due.apply().get()["emails"] == 1
    assert reports_send_due.apply().get()["emails"] == 0


# --- checks ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("over", "error", "code", "field"),
    [
        ({"addresses": ["not-an-address"]}, ReportAddressInvalid, "invalid_address", "addresses"),
        ({"addresses": "a@example.org, b@"}, ReportAddressInvalid, "invalid_address", "addresses"),
        ({"addresses": []}, ReportRecipientsMissing, "no_recipients", "addresses"),
        (
            {"report": ReportKind.AT_RISK, "frequency": "monthly", "day_of_month": 1},
            ReportScheduleInvalid,
            "invalid_schedule",
            "frequency",
        ),
        (
            {"frequency": "monthly", "day_of_month": 31},
            ReportScheduleInvalid,
            "invalid_schedule",
            "day_of_month",
        ),
        ({"weekday": None}, ReportScheduleInvalid, "invalid_schedule", "weekday"),
        ({"hour": 24}, ReportScheduleInvalid, "invalid_schedule", "hour"),
        ({"frequency": "daily"}, ReportScheduleInvalid, "invalid_schedule", "frequency"),
        ({"language": "fr"}, ReportScheduleInvalid, "invalid_schedule", "language"),
    ],
)
def test_a_bad_subscription_is_refused_and_nothing_is_written(over, error, code, field):
    values = {
        "report": ReportKind.KPI,
        "frequency": "weekly",
        "weekday": 0,
        "hour": 8,
        "addresses": ["boss@example.org"],
        **over,
    }
    with pytest.raises(error) as refused:
        report_subscription_create(actor=None, **values)
    assert refused.value.code == code and refused.value.extra["field"] == field
    assert not ReportSubscription.objects.exclude(role__name=MANAGER).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_role_that_is_not_a_staff_role_is_refused():
    with pytest.raises(ReportScheduleInvalid):
        subscribe(addresses=[], role=Group.objects.create(name="Friends"))


@pytest.mark.django_db
def test_addresses_are_cleaned_lower_cased_and_kept_once():
    subscription = subscribe(addresses=" A@Example.org;b@example.org\na@example.org ")
    assert subscription.addresses == ["a@example.org", "b@example.org"]


# --- audit ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_changes_and_sends_are_audited(manager):
    ReportSubscription.objects.all().delete()
    subscription = report_subscription_create(
        actor=manager, report=ReportKind.KPI, weekday=0, addresses=["boss@example.org"]
    )
    report_subscription_update(
        subscription=subscription,
        actor=manager,
        report=ReportKind.KPI,
        frequency="monthly",
        day_of_month=3,
        hour=7,
        addresses=["boss@example.org"],
    )
    report_send_due()
    report_send_test(subscription=subscription, user=manager)
    report_subscription_delete(subscription=subscription, actor=manager)

    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == [
        "report_subscription.create",
        "report_subscription.update",
        "export.scheduled_report",
        "export.scheduled_report",
        "report_subscription.delete",
    ]
    create, update, scheduled, test, delete = events
    assert create.actor == manager and create.after["addresses"] == ["boss@example.org"]
    assert update.before["frequency"] == "weekly" and update.after["day_of_month"] == 3
    assert scheduled.actor is None and scheduled.after["recipients"] == ["boss@example.org"]
    assert scheduled.after["format"] == "xlsx" and scheduled.after["rows"] > 0
    assert test.actor == manager and test.after["recipients"] == [manager.email]
    assert test.after["test"] is True
    assert delete.before["report"] == "kpi"
    assert [m.to for m in mail.outbox] == [["boss@example.org"], [manager.email]]


# --- the default subscription --------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_subscribes_managers_to_the_weekly_at_risk_list_once():
    migration = importlib.import_module("apps.analytics.migrations.0009_report_schedule")
    ReportSubscription.objects.all().delete()

    migration.schedule(django_apps, None)
    migration.schedule(django_apps, None)

    subscription = ReportSubscription.objects.get()
    assert (subscription.report, subscription.frequency) == ("at_risk", "weekly")
    assert (subscription.weekday, subscription.hour, subscription.role.name) == (0, 8, MANAGER)
    # The period current at the upgrade counts as sent: nobody gets this week's list twice.
    assert subscription.last_sent_period == subscription_period(subscription, timezone.now()).key
    assert report_subscriptions_due(now=timezone.now()) == []
    task = PeriodicTask.objects.get(task="analytics.reports_send_due")
    assert (task.interval.every, task.interval.period) == (15, "minutes")

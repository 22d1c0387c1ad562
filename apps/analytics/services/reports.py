"""Scheduled reports: subscriptions (create, change, delete — checked and audited here, whoever
calls) and their sending, exactly once per (subscription, period).

Sending a period is claimed before anything leaves: a conditional UPDATE of the subscription's
``last_sent_period`` (only one of two runs at the same time changes the row) and a
``ReportDelivery`` row, unique per (subscription, period), committed before the first e-mail.
A run that loses the claim sends nothing. A recipient whose e-mail failed is recorded on the
delivery; the next run retries only those (up to ``MAX_ATTEMPTS``), never the ones who got it.
A worker that dies mid-send leaves the delivery ``sending``: nothing resends it by itself, as a
double send is worse than a missing one (the admin shows it).

Each recipient gets the e-mail in their language: users in their own ``language``, addresses in
the subscription's. Sending is an export of the data: one ``export.scheduled_report`` audit row
per delivery, with the addresses it went to.
"""

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.roles import ROLES
from apps.core.services import audit_record, export_record, model_snapshot

from ..enums import DeliveryStatus, ReportFrequency, ReportKind
from ..exceptions import ReportAddressInvalid, ReportRecipientsMissing, ReportScheduleInvalid
from ..models import ReportDelivery, ReportSubscription
from ..report_content import ReportContent, at_risk_week, report_data, report_render
from ..report_periods import Period, period_current
from .at_risk import at_risk_build

log = logging.getLogger(__name__)

MAX_ADDRESSES = 50
MAX_ATTEMPTS = 3
RETRYABLE = (DeliveryStatus.FAILED, DeliveryStatus.PARTIAL)
FIELDS = ["report", "frequency", "weekday", "day_of_month", "hour", "role", "language", "active"]


# --- subscriptions ---------------------------------------------------------------------------


def _snapshot(subscription: ReportSubscription) -> dict:
    return {**model_snapshot(subscription, FIELDS), "addresses": list(subscription.addresses)}


def addresses_clean(addresses) -> list[str]:
    """Addresses from a list or a text (commas, semicolons, spaces or lines between them),
    lower-cased, each once; ``ReportAddressInvalid`` names the first bad one."""
    if isinstance(addresses, str):
        addresses = addresses.replace(";", ",").replace("\n", ",").replace(" ", ",").split(",")
    out: list[str] = []
    for raw in addresses or []:
        address = str(raw).strip().lower()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ReportAddressInvalid(
                _("“%(address)s” is not a valid e-mail address.") % {"address": address[:100]},
                field="addresses",
            ) from None
        if address not in out:
            out.append(address)
    if len(out) > MAX_ADDRESSES:
        raise ReportAddressInvalid(
            _("At most %(n)s addresses per subscription.") % {"n": MAX_ADDRESSES},
            field="addresses",
        )
    return out


def _checked(
    *,
    report: str,
    frequency: str,
    weekday: int | None,
    day_of_month: int | None,
    hour: int,
    role: Group | None,
    addresses,
    language: str,
) -> dict:
    if report not in ReportKind.values:
        raise ReportScheduleInvalid(_("Choose a report."), field="report")
    if frequency not in ReportFrequency.values:
        raise ReportScheduleInvalid(_("Choose weekly or monthly."), field="frequency")
    if report == ReportKind.AT_RISK and frequency != ReportFrequency.WEEKLY:
        raise ReportScheduleInvalid(
            _("The at-risk list is made weekly: it can only be sent weekly."), field="frequency"
        )
    if frequency == ReportFrequency.WEEKLY:
        if weekday is None or not 0 <= int(weekday) <= 6:
            raise ReportScheduleInvalid(_("Choose the day of the week."), field="weekday")
        weekday, day_of_month = int(weekday), None
    else:
        if day_of_month is None or not 1 <= int(day_of_month) <= 28:
            raise ReportScheduleInvalid(
                _("Choose a day of the month from 1 to 28 (every month has it)."),
                field="day_of_month",
            )
        weekday, day_of_month = None, int(day_of_month)
    if hour is None or not 0 <= int(hour) <= 23:
        raise ReportScheduleInvalid(_("Choose an hour from 0 to 23."), field="hour")
    if role is not None and role.name not in ROLES:
        raise ReportScheduleInvalid(_("Choose a staff role."), field="role")
    if language not in dict(settings.LANGUAGES):
        raise ReportScheduleInvalid(_("Choose a language."), field="language")
    addresses = addresses_clean(addresses)
    if role is None and not addresses:
        raise ReportRecipientsMissing(field="addresses")
    return {
        "report": report,
        "frequency": frequency,
        "weekday": weekday,
        "day_of_month": day_of_month,
        "hour": int(hour),
        "role": role,
        "addresses": addresses,
        "language": language,
    }


@transaction.atomic
def report_subscription_create(
    *,
    actor: User | None,
    report: str,
    frequency: str = ReportFrequency.WEEKLY,
    weekday: int | None = None,
    day_of_month: int | None = None,
    hour: int = 8,
    role: Group | None = None,
    addresses=(),
    language: str = "en",
    active: bool = True,
) -> ReportSubscription:
    """A new subscription; refused (``ReportSubscriptionInvalid`` and its kinds, naming the
    field) before anything is written. Its first e-mail is the latest period whose send time
    has passed, at the next run."""
    values = _checked(
        report=report,
        frequency=frequency,
        weekday=weekday,
        day_of_month=day_of_month,
        hour=hour,
        role=role,
        addresses=addresses,
        language=language,
    )
    subscription = ReportSubscription.objects.create(
        **values,
        active=bool(active),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="report_subscription.create",
        target=subscription,
        summary=str(subscription),
        after=_snapshot(subscription),
    )
    return subscription


@transaction.atomic
def report_subscription_update(
    *,
    subscription: ReportSubscription,
    actor: User | None,
    report: str,
    frequency: str,
    weekday: int | None = None,
    day_of_month: int | None = None,
    hour: int = 8,
    role: Group | None = None,
    addresses=(),
    language: str = "en",
    active: bool = True,
) -> ReportSubscription:
    """Change a subscription (checked as on create). A period already sent stays sent."""
    values = _checked(
        report=report,
        frequency=frequency,
        weekday=weekday,
        day_of_month=day_of_month,
        hour=hour,
        role=role,
        addresses=addresses,
        language=language,
    )
    subscription = ReportSubscription.objects.select_for_update().get(pk=subscription.pk)
    before = _snapshot(subscription)
    for name, value in {**values, "active": bool(active)}.items():
        setattr(subscription, name, value)
    subscription.save()
    audit_record(
        actor=actor,
        action="report_subscription.update",
        target=subscription,
        summary=str(subscription),
        before=before,
        after=_snapshot(subscription),
    )
    return subscription


@transaction.atomic
def report_subscription_delete(*, subscription: ReportSubscription, actor: User | None) -> None:
    audit_record(
        actor=actor,
        action="report_subscription.delete",
        target=subscription,
        summary=str(subscription),
        before=_snapshot(subscription),
    )
    subscription.delete()


# --- when ------------------------------------------------------------------------------------


def subscription_period(subscription: ReportSubscription, now: dt.datetime) -> Period:
    """The period the subscription's latest send moment at or before ``now`` covers."""
    return period_current(
        frequency=subscription.frequency,
        weekday=subscription.weekday,
        day_of_month=subscription.day_of_month,
        hour=subscription.hour,
        now=now,
    )


def report_subscriptions_due(
    *, now: dt.datetime | None = None, reports: list[str] | None = None
) -> list[tuple[ReportSubscription, Period]]:
    """Active subscriptions whose latest period (in the business time zone) is not sent yet,
    or whose delivery of it failed for someone and may be tried again; by pk."""
    now = now or timezone.now()
    subscriptions = ReportSubscription.objects.filter(active=True).select_related("role")
    if reports:
        subscriptions = subscriptions.filter(report__in=reports)
    current = {s.pk: (s, subscription_period(s, now)) for s in subscriptions.order_by("pk")}
    retry = set(
        ReportDelivery.objects.filter(
            subscription_id__in=list(current),
            status__in=RETRYABLE,
            attempts__lt=MAX_ATTEMPTS,
        ).values_list("subscription_id", "period")
    )
    return [
        (subscription, period)
        for pk, (subscription, period) in current.items()
        if period.key != subscription.last_sent_period or (pk, period.key) in retry
    ]


# --- sending ---------------------------------------------------------------------------------


@transaction.atomic
def report_claim(
    *, subscription: ReportSubscription, period: Period, now: dt.datetime | None = None
) -> ReportDelivery | None:
    """Take the period for this run, or None when another run has it (or had it). A new period:
    the conditional UPDATE on ``last_sent_period`` decides between runs at the same time, the
    unique delivery row between any others. A failed one: a conditional UPDATE of its status."""
    now = now or timezone.now()
    retried = ReportDelivery.objects.filter(
        subscription_id=subscription.pk,
        period=period.key,
        status__in=RETRYABLE,
        attempts__lt=MAX_ATTEMPTS,
    ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, finished_at=None)
    if retried:
        return ReportDelivery.objects.get(subscription_id=subscription.pk, period=period.key)
    claimed = (
        ReportSubscription.objects.filter(pk=subscription.pk, active=True)
        .filter(~Q(last_sent_period=period.key))
        .update(last_sent_period=period.key, last_sent_at=now)
    )
    if not claimed:
        return None
    try:
        with transaction.atomic():
            return ReportDelivery.objects.create(
                subscription_id=subscription.pk,
                period=period.key,
                period_start=period.start,
                period_end=period.end,
                started_at=now,
            )
    except IntegrityError:  # sent before under another schedule that gave the same key
        return None


def report_recipients(subscription: ReportSubscription) -> list[tuple[str, str]]:
    """(address, language) of everyone the subscription reaches, each address once: the
    role's active users with an e-mail in their own language, then the addresses in the
    subscription's."""
    out: dict[str, str] = {}
    if subscription.role_id:
        users = (
            User.objects.filter(is_active=True, groups=subscription.role_id, email__isnull=False)
            .exclude(email="")
            .order_by("pk")
        )
        for user in users:
            out.setdefault(user.email.lower(), _language(user.language))
    for address in subscription.addresses or []:
        out.setdefault(address.lower(), _language(subscription.language))
    return list(out.items())


def _language(code: str | None) -> str:
    known = {c.lower() for c, _name in settings.LANGUAGES}
    code = (code or "").lower()
    return code if code in known else settings.LANGUAGE_CODE


def _message(content: ReportContent, *, to: str) -> EmailMultiAlternatives:
    context = {"content": content, "language": translation.get_language()}
    mail = EmailMultiAlternatives(
        subject=content.subject,
        body=render_to_string("emails/report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    mail.attach_alternative(render_to_string("emails/report.html", context), "text/html")
    for attachment in content.attachments:
        mail.attach(attachment.filename, attachment.content, attachment.mimetype)
    return mail


class _Contents:
    """The content in each recipient's language, rendered once per language."""

    def __init__(self, data):
        self.data = data
        self.by_language: dict[str, ReportContent] = {}

    def get(self, language: str) -> ReportContent:
        if language not in self.by_language:
            with translation.override(language):
                self.by_language[language] = report_render(self.data)
        return self.by_language[language]

    def message(self, *, to: str, language: str) -> EmailMultiAlternatives:
        content = self.get(language)
        with translation.override(language):
            return _message(content, to=to)


def report_send(
    *, subscription: ReportSubscription, period: Period, now: dt.datetime | None = None
) -> ReportDelivery | None:
    """Send ``period`` of the subscription once: claim it (committed), then e-mail each
    recipient not yet reached, then record the outcome and audit the export. Returns the
    delivery, or None when another run claimed the period. Not one transaction on purpose: the
    claim must be committed before an e-mail leaves, and a sent e-mail cannot roll back."""
    delivery = report_claim(subscription=subscription, period=period, now=now)
    if delivery is None:
        return None
    try:
        if subscription.report == ReportKind.AT_RISK:
            at_risk_build(week=at_risk_week(period))  # beat may run this before the list job
        data = report_data(kind=subscription.report, period=period)
        recipients = [(a, lang) for a, lang in report_recipients(subscription)]
    except Exception as exc:
        log.exception("report %s %s could not be built", subscription.pk, period.key)
        return _finish(delivery, sent=[], failed=[], error=f"{type(exc).__name__}: {exc}")
    if data.empty or not recipients:
        return _finish(delivery, sent=[], failed=[], skipped=True)
    contents = _Contents(data)
    sent, failed, errors = [], [], []
    for address, language in recipients:
        if address in delivery.sent_to:
            continue
        try:
            contents.message(to=address, language=language).send()
        except Exception as exc:  # one bad address or a flaky relay must not stop the others
            # Not the address or the relay's message (it may repeat the address): logs are kept.
            log.warning(
                "report %s %s to one recipient failed: %s",
                subscription.pk,
                period.key,
                type(exc).__name__,
            )
            failed.append(address)
            errors.append(f"{address}: {type(exc).__name__}: {exc}")
        else:
            sent.append(address)
    content = next(iter(contents.by_language.values()), None)
    return _finish(delivery, sent=sent, failed=failed, error="\n".join(errors), content=content)


@transaction.atomic
def _finish(
    delivery: ReportDelivery,
    *,
    sent: list[str],
    failed: list[str],
    error: str = "",
    skipped: bool = False,
    content: ReportContent | None = None,
) -> ReportDelivery:
    delivery.sent_to = [*delivery.sent_to, *sent]
    delivery.failed_to = failed
    delivery.error = error[:4000]
    if skipped:
        delivery.status = DeliveryStatus.SKIPPED
    elif error and not delivery.sent_to:
        delivery.status = DeliveryStatus.FAILED
    elif failed:
        delivery.status = DeliveryStatus.PARTIAL
    else:
        delivery.status = DeliveryStatus.SENT
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=["sent_to", "failed_to", "error", "status", "finished_at"])
    if sent:
        subscription = delivery.subscription
        export_record(
            actor=None,
            what="scheduled_report",
            fmt="xlsx",
            rows=content.rows if content else None,
            target=subscription,
            summary=f"{subscription.report} {delivery.period} to {len(sent)}",
            details={
                "report": subscription.report,
                "period": delivery.period,
                "recipients": sent,
                "subscription_created_by": subscription.created_by_id,
            },
        )
    return delivery


def report_send_due(*, now: dt.datetime | None = None, reports: list[str] | None = None) -> dict:
    """Send every due period (the beat job); safe to run twice or at the same time. Counts the
    deliveries by outcome and the e-mails sent."""
    now = now or timezone.now()
    done = {"due": 0, "sent": 0, "skipped": 0, "failed": 0, "claimed_elsewhere": 0, "emails": 0}
    for subscription, period in report_subscriptions_due(now=now, reports=reports):
        done["due"] += 1
        delivery = report_send(subscription=subscription, period=period, now=now)
        if delivery is None:
            done["claimed_elsewhere"] += 1
            continue
        done["emails"] += len(delivery.sent_to)
        if delivery.status == DeliveryStatus.SKIPPED:
            done["skipped"] += 1
        elif delivery.status in RETRYABLE:
            done["failed"] += 1
        else:
            done["sent"] += 1
    return done


def report_send_test(
    *, subscription: ReportSubscription, user: User, now: dt.datetime | None = None
) -> Period:
    """The latest period to ``user`` alone, in their language, now: a preview that claims
    nothing (the schedule still sends it to everyone). Audited as an export by ``user``."""
    if not user.email:
        raise ReportRecipientsMissing(_("Your account has no e-mail address."))
    period = subscription_period(subscription, now or timezone.now())
    data = report_data(kind=subscription.report, period=period)
    contents = _Contents(data)
    language = _language(user.language)
    contents.message(to=user.email, language=language).send()
    with transaction.atomic():
        export_record(
            actor=user,
            what="scheduled_report",
            fmt="xlsx",
            rows=contents.get(language).rows,
            target=subscription,
            summary=f"{subscription.report} {period.key} test to {user.email}",
            details={
                "report": subscription.report,
                "period": period.key,
                "recipients": [user.email],
                "test": True,
            },
        )
    return period

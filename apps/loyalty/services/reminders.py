"""Expiring-points reminders.

Exactly once per lot: a lot is reminded when it enters the programme's ``reminder_days`` window;
its ``reminded_at`` is set in the same transaction that records the reminder, with one set-based
UPDATE per chunk, and the lots are read ``FOR UPDATE SKIP LOCKED`` so two concurrent runs split
the work instead of both sending. A member whose lots enter the window on the same run gets one
message listing the points per expiry date.

Who is told, and how (decided here; DESIGN is silent):

- The portal inbox always gets the message (it is part of the member's account), written in
  every language (the member reads it in whichever one the portal is in), dated the run's
  ``as_of``.
- E-mail: a points-expiry notice is a *service* message about the member's own account, not
  marketing, so it needs no marketing opt-in. It is sent when the member has an address on file,
  is not anonymised, has not withdrawn e-mail consent for purpose "service" (an explicit
  withdrawal is honoured), and — when the address belongs to a portal login — that login's
  address has been verified (an unconfirmed sign-up may be a typo or someone else's address).
  Addresses recorded by staff, tills or imports are taken as given by the member.
- The e-mail is rendered in the member's preferred language and sent after commit: the run
  publishes ``points.expiring`` per member, and the e-mail is its after-commit subscriber
  (delivered from the outbox, retried), so a rolled-back run sends nothing. An e-mail whose
  points have all expired by the time it is delivered (a backlog, or a run back-filling
  history) is not sent: it would only tell the member something no longer true.
"""

import datetime as dt
from collections import defaultdict

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core import events
from apps.core.content import content_languages
from apps.core.events import Event
from apps.customers.enums import Channel, ConsentPurpose
from apps.customers.inbox import portal_message_send
from apps.customers.models import ConsentRecord, Customer, PortalMessage

from ..describe import expiring_text
from ..enums import ExpiryPolicy
from ..models import PointsLot, Programme
from ..selectors import lots_expiring


def _emailable(customer_ids: list[int]) -> set[int]:
    """Of these customers, those a service e-mail may go to (see the module docstring)."""
    latest_service = (
        ConsentRecord.objects.filter(
            customer=OuterRef("pk"), channel=Channel.EMAIL, purpose=ConsentPurpose.SERVICE
        )
        .order_by("-at", "-id")
        .values("granted")[:1]
    )
    verified = EmailAddress.objects.filter(
        user_id=OuterRef("user_id"), email__iexact=OuterRef("email"), verified=True
    )
    return set(
        Customer.objects.filter(pk__in=customer_ids, anonymized_at__isnull=True)
        .exclude(email="")
        .annotate(service_consent=Subquery(latest_service), verified=Exists(verified))
        .filter(Q(service_consent__isnull=True) | Q(service_consent=True))
        .filter(Q(user__isnull=True) | Q(verified=True))
        .values_list("pk", flat=True)
    )


@transaction.atomic
def _remind_chunk(
    *, account_ids: list[int], as_of: dt.datetime, within_days: int, email: bool
) -> int:
    lots = list(
        lots_expiring(within_days=within_days, as_of=as_of)
        .filter(account_id__in=account_ids)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")
        .values("id", "remaining", "expires_at", "earned_at", "account__customer_id")
    )
    if not lots:
        return 0
    PointsLot.objects.filter(pk__in=[lot["id"] for lot in lots], reminded_at__isnull=True).update(
        reminded_at=as_of
    )
    # Per member, points per expiry day and month they were earned in (the reminder names them
    # as the history will once they expire: "points earned in May 2025").
    per_customer: dict[int, dict[tuple[dt.date, str], int]] = defaultdict(lambda: defaultdict(int))
    for lot in lots:
        day = timezone.localdate(lot["expires_at"])
        earned = f"{timezone.localdate(lot['earned_at']):%Y-%m}"
        per_customer[lot["account__customer_id"]][(day, earned)] += lot["remaining"]
    items = {
        customer_id: [
            {"points": points, "expires_on": day.isoformat(), "earned_in": earned}
            for (day, earned), points in sorted(days.items())
        ]
        for customer_id, days in per_customer.items()
    }
    first_lot = {}
    for lot in lots:
        first_lot.setdefault(lot["account__customer_id"], lot["id"])
    for customer in Customer.objects.filter(pk__in=list(items), anonymized_at__isnull=True):
        content = {}
        for lang in content_languages():
            with translation.override(lang):
                subject, text, _html = _render(customer=customer, items=items[customer.pk])
            suffix = lang.replace("-", "_")
            content[f"subject_{suffix}"], content[f"body_{suffix}"] = subject, text
        portal_message_send(
            customer=customer,
            kind=PortalMessage.Kind.LOYALTY,
            key=f"points-expiring:{first_lot[customer.pk]}",
            sent_at=as_of,
            **content,
        )
    if email:
        for customer_id in sorted(items):
            events.publish("points.expiring", customer_id=customer_id, items=items[customer_id])
    return len(items)


def points_expiring_remind(
    *, as_of: dt.datetime | None = None, chunk: int = 500, email: bool = True
) -> int:
    """Remind members of points entering the reminder window; each lot once. Returns the number
    of members reminded. ``email=False`` writes only the inbox messages: a run back-filling
    history (the demo) has no e-mails of the past to send."""
    as_of = as_of or timezone.now()
    programme = Programme.get()
    if programme.expiry_policy == ExpiryPolicy.NEVER or not programme.reminder_days:
        return 0
    account_ids = list(
        lots_expiring(within_days=programme.reminder_days, as_of=as_of)
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()
    )
    reminded = 0
    for start in range(0, len(account_ids), chunk):
        reminded += _remind_chunk(
            account_ids=account_ids[start : start + chunk],
            as_of=as_of,
            within_days=programme.reminder_days,
            email=email,
        )
    return reminded


def _month(value: str | None) -> dt.date | None:
    """``"2025-05"`` → 1 May 2025; None for an event queued before reminders named the month."""
    try:
        return dt.date.fromisoformat(f"{value}-01") if value else None
    except ValueError:
        return None


def _render(*, customer: Customer, items: list[dict]) -> tuple[str, str, str]:
    rows = []
    for item in items:
        expires_on = dt.date.fromisoformat(item["expires_on"])
        earned_in = _month(item.get("earned_in"))
        rows.append(
            {
                "points": item["points"],
                "expires_on": expires_on,
                "earned_in": earned_in,
                "text": expiring_text(
                    points=item["points"], expires_on=expires_on, earned_in=earned_in
                ),
            }
        )
    context = {
        "customer": customer,
        "programme": Programme.get(),
        "rows": rows,
        "total": sum(row["points"] for row in rows),
        "rewards_url": f"{getattr(settings, 'SITE_URL', '').rstrip('/')}/me/rewards/",
        "has_site_url": bool(getattr(settings, "SITE_URL", "")),
    }
    subject = _("Your points expire soon")
    text = render_to_string("emails/points_expiring.txt", context)
    html = render_to_string("emails/points_expiring.html", context)
    return subject, text, html


def on_points_expiring(event: Event) -> bool:
    """``points.expiring``, after commit (through the outbox, retried): the e-mail."""
    return points_expiring_email_send(
        customer_id=event.payload["customer_id"], items=event.payload["items"]
    )


def points_expiring_email_send(*, customer_id: int, items: list[dict]) -> bool:
    """Send the reminder e-mail in the member's language. Re-checks reachability at send time
    (consent may have been withdrawn since the run) and leaves out the points that have expired
    meanwhile; nothing is sent when none are left. Returns whether a message was sent."""
    today = timezone.localdate()
    items = [item for item in items if dt.date.fromisoformat(item["expires_on"]) >= today]
    if not items or customer_id not in _emailable([customer_id]):
        return False
    customer = Customer.objects.get(pk=customer_id)
    with translation.override(customer.preferred_language):
        subject, text, html = _render(customer=customer, items=items)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[customer.email]
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return True

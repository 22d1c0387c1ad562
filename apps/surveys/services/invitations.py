"""Who is asked, how, and — when they are not — why.

Every candidate (a member after a purchase, after a resolved ticket, picked by hand, or a till's
receipt) becomes one ``Invitation`` row: *sent* with a token link, or *skipped* with the reason.
Rules, in order (decided here, DESIGN is silent on the order):

1. the survey must be live (a draft, paused or closed survey invites nobody);
2. anonymised members are never asked;
3. a sample (after-purchase triggers) keeps ``sample_percent`` of the candidates, chosen by a
   hash of survey and context, so a rerun picks the same ones;
4. the cooldown: nobody gets a second invitation within the programme's
   ``survey_cooldown_days``, across all surveys (receipts count too: a member asked at the till
   was asked);
5. consent, checked at send time: the first of the survey's ``invite_channels`` for which the
   member's latest ``surveys`` consent is granted and an address exists (e-mail on file; a portal
   login for the inbox). Receipts need none: nothing is sent, the member holds the paper.

Exactly once (invariant 2): one invitation per (survey, customer, context) and per (survey,
order), by unique keys; batches insert with ``ignore_conflicts`` and read back what they wrote by
token, so a rerun or a concurrent run adds nothing. E-mails go after commit, through the outbox
(``survey.invited``), and re-check consent when they are sent.
"""

import datetime as dt
import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core import events
from apps.core.content import content_languages
from apps.core.events import Event
from apps.customers.enums import Channel, ConsentPurpose
from apps.customers.models import ConsentRecord, Customer, Order, PortalMessage, Store
from apps.customers.selectors import customer_survivor
from apps.customers.services import unsubscribe_token_make
from apps.loyalty.models import Programme

from ..enums import (
    EmailStatus,
    InvitationChannel,
    InvitationStatus,
    SkipReason,
    SurveyStatus,
    SurveyTrigger,
)
from ..exceptions import AlreadyAnswered, NotEligible, OrderMemberMismatch, SurveyNotOpen
from ..models import AskedMark, Invitation, Survey

TOKEN_BYTES = 24  # 192 bits: unguessable
BATCH = 2000
EMAIL_EVENT_BATCH = 500
DEFAULT_CHANNELS = (InvitationChannel.EMAIL, InvitationChannel.PORTAL)
# Portal invitations only reach members with a portal login; e-mail needs an address.
CONSENT_CHANNEL = {InvitationChannel.EMAIL: Channel.EMAIL, InvitationChannel.PORTAL: Channel.PORTAL}


def token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def survey_link(token: str, *, absolute: bool = True) -> str:
    path = reverse("portal:survey-answer", kwargs={"token": token})
    return f"{settings.SITE_URL.rstrip('/')}{path}" if absolute else path


@dataclass(frozen=True)
class Candidate:
    customer_id: int | None
    context: str
    order_id: int | None = None
    store_id: int | None = None


@dataclass
class IssueResult:
    sent: list[int] = field(default_factory=list)  # invitation ids
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    existing: int = 0  # candidates invited before (same context): nothing written

    def merge(self, other: "IssueResult") -> None:
        self.sent.extend(other.sent)
        self.skipped.update(other.skipped)
        self.existing += other.existing


def in_sample(*, survey: Survey, context: str) -> bool:
    if survey.sample_percent >= 100:
        return True
    digest = hashlib.sha256(f"{survey.pk}:{context}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < survey.sample_percent


def _channels(survey: Survey, channels: Sequence[str] | None) -> list[str]:
    wanted = list(channels or survey.invite_channels or DEFAULT_CHANNELS)
    return [c for c in wanted if c in CONSENT_CHANNEL]


def _reachability(customer_ids: list[int], channels: list[str], now: dt.datetime, cooldown: int):
    """Per customer: anonymised?, e-mail?, portal login?, consent per channel, last asked."""
    latest = {}
    for channel in channels:
        latest[f"consent_{channel}"] = Subquery(
            ConsentRecord.objects.filter(
                customer=OuterRef("pk"),
                channel=CONSENT_CHANNEL[channel],
                purpose=ConsentPurpose.SURVEYS,
                at__lte=now,
            )
            .order_by("-at", "-id")
            .values("granted")[:1]
        )
    rows = (
        Customer.objects.filter(pk__in=customer_ids)
        .annotate(
            last_asked=Max(
                "survey_invitations__sent_at",
                filter=Q(survey_invitations__status=InvitationStatus.SENT),
            ),
            last_marked=Subquery(
                AskedMark.objects.filter(customer=OuterRef("pk"))
                .order_by("-asked_on")
                .values("asked_on")[:1]
            ),
            **latest,
        )
        .values("pk", "anonymized_at", "email", "user_id", "last_asked", "last_marked", *latest)
    )
    return {row["pk"]: row for row in rows}


def within_cooldown(
    last_sent: dt.datetime | None, last_marked: dt.date | None, *, now: dt.datetime, days: int
) -> bool:
    """Was the member asked less than ``days`` ago? An asked mark knows only the day, so it
    counts as the end of that day (never asking sooner than the cooldown allows)."""
    since = now - dt.timedelta(days=days)
    return (last_sent is not None and last_sent > since) or (
        last_marked is not None and last_marked >= timezone.localdate(since)
    )


def _decide(
    *, survey, candidate, info, channels, now, cooldown, asked_now: set, sample: bool
) -> tuple[str, str]:
    """(channel, skip reason or "") for one candidate."""
    first = channels[0] if channels else InvitationChannel.PORTAL
    if info is None or info["anonymized_at"] is not None:
        return first, SkipReason.ANONYMISED
    if sample and not in_sample(survey=survey, context=candidate.context):
        return first, SkipReason.SAMPLED_OUT
    if cooldown and (
        candidate.customer_id in asked_now
        or within_cooldown(info["last_asked"], info["last_marked"], now=now, days=cooldown)
    ):
        return first, SkipReason.COOLDOWN
    consented = [c for c in channels if info.get(f"consent_{c}")]
    if not consented:
        return first, SkipReason.NO_CONSENT
    for channel in consented:
        if channel == InvitationChannel.EMAIL and info["email"]:
            return channel, ""
        if channel == InvitationChannel.PORTAL and info["user_id"]:
            return channel, ""
    return consented[0], SkipReason.NO_CHANNEL


def _portal_messages(invitations: list[Invitation], survey: Survey, now: dt.datetime) -> None:
    messages = []
    for invitation in invitations:
        content = {}
        for lang in content_languages():
            with translation.override(lang):
                subject, body = _invitation_text(survey=survey, invitation=invitation)
            suffix = lang.replace("-", "_")
            content[f"subject_{suffix}"], content[f"body_{suffix}"] = subject[:200], body
        messages.append(
            PortalMessage(
                customer_id=invitation.customer_id,
                kind=PortalMessage.Kind.SERVICE,
                key=f"survey-invitation:{invitation.pk}",
                sent_at=now,
                subject=content.get("subject_en", ""),
                body=content.get("body_en", ""),
                **content,
            )
        )
    PortalMessage.objects.bulk_create(messages, ignore_conflicts=True)


def _invitation_text(*, survey: Survey, invitation: Invitation) -> tuple[str, str]:
    """Subject and plain-text body of an invitation in the active language."""
    context = {
        "survey": survey,
        "url": survey_link(invitation.token),
        "expires_at": invitation.expires_at,
        "reward_points": survey.reward_points,
    }
    subject = _("Tell us what you think: %(title)s") % {"title": survey.title}
    return subject, render_to_string("emails/survey_invitation.txt", context)


def _issue_chunk(
    *,
    survey: Survey,
    candidates: Sequence[Candidate],
    channels: list[str],
    now: dt.datetime,
    cooldown: int,
    sample: bool,
    asked_now: set[int],
) -> IssueResult:
    result = IssueResult()
    customer_ids = sorted({c.customer_id for c in candidates if c.customer_id is not None})
    info = _reachability(customer_ids, channels, now, cooldown)
    contexts = {c.context for c in candidates}
    order_ids = [c.order_id for c in candidates if c.order_id]
    taken, taken_orders = set(), set()
    for model in (Invitation, AskedMark):
        taken.update(
            model.objects.filter(
                survey=survey, customer_id__in=customer_ids, context__in=contexts
            ).values_list("customer_id", "context")
        )
        taken_orders.update(
            model.objects.filter(survey=survey, order_id__in=order_ids).values_list(
                "order_id", flat=True
            )
        )
    expires = now + dt.timedelta(days=survey.valid_days)
    rows = []
    for candidate in candidates:
        if (candidate.customer_id, candidate.context) in taken or (
            candidate.order_id in taken_orders
        ):
            result.existing += 1
            continue
        channel, reason = _decide(
            survey=survey,
            candidate=candidate,
            info=info.get(candidate.customer_id),
            channels=channels,
            now=now,
            cooldown=cooldown,
            asked_now=asked_now,
            sample=sample,
        )
        if not reason:
            asked_now.add(candidate.customer_id)
        taken.add((candidate.customer_id, candidate.context))
        if candidate.order_id:
            taken_orders.add(candidate.order_id)
        rows.append(
            Invitation(
                survey=survey,
                customer_id=candidate.customer_id,
                token=token_new(),
                channel=channel,
                status=InvitationStatus.SKIPPED if reason else InvitationStatus.SENT,
                skip_reason=reason,
                context=candidate.context,
                order_id=candidate.order_id,
                store_id=candidate.store_id,
                email_status=(
                    EmailStatus.QUEUED
                    if not reason and channel == InvitationChannel.EMAIL
                    else EmailStatus.NONE
                ),
                created_at=now,
                sent_at=None if reason else now,
                expires_at=None if reason else expires,
            )
        )
    Invitation.objects.bulk_create(rows, ignore_conflicts=True)
    # What this run wrote (a concurrent run may have taken some contexts first).
    written = list(
        Invitation.objects.filter(token__in=[r.token for r in rows]).only(
            "pk", "customer_id", "token", "channel", "status", "skip_reason", "expires_at"
        )
    )
    result.existing += len(rows) - len(written)
    sent = [i for i in written if i.status == InvitationStatus.SENT]
    for invitation in written:
        if invitation.status == InvitationStatus.SKIPPED:
            result.skipped[invitation.skip_reason] += 1
    result.sent.extend(i.pk for i in sent)
    _portal_messages([i for i in sent if i.channel == InvitationChannel.PORTAL], survey, now)
    emails = [i.pk for i in sent if i.channel == InvitationChannel.EMAIL]
    for start in range(0, len(emails), EMAIL_EVENT_BATCH):
        events.publish("survey.invited", invitation_ids=emails[start : start + EMAIL_EVENT_BATCH])
    return result


def invitations_issue(
    *,
    survey: Survey,
    candidates: Iterable[Candidate],
    channels: Sequence[str] | None = None,
    sample: bool = False,
    at: dt.datetime | None = None,
    batch: int = BATCH,
) -> IssueResult:
    """Invite the candidates (see the module docstring for who is skipped and why); each batch
    in its own transaction. ``channels`` defaults to the survey's ``invite_channels``. Returns
    the ids sent, the skips by reason and how many were invited before."""
    if survey.status != SurveyStatus.LIVE:
        raise SurveyNotOpen(_("Publish the survey before inviting anyone."))
    now = at or timezone.now()
    cooldown = Programme.get().survey_cooldown_days
    wanted = _channels(survey, channels)
    result = IssueResult()
    asked_now: set[int] = set()
    chunk: list[Candidate] = []

    def flush() -> None:
        with transaction.atomic():
            result.merge(
                _issue_chunk(
                    survey=survey,
                    candidates=chunk,
                    channels=wanted,
                    now=now,
                    cooldown=cooldown,
                    sample=sample,
                    asked_now=asked_now,
                )
            )
        chunk.clear()

    for candidate in candidates:
        chunk.append(candidate)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    return result


def invitations_send_to_customers(
    *,
    survey: Survey,
    customer_ids: Iterable[int],
    channels: Sequence[str] | None = None,
    at: dt.datetime | None = None,
) -> IssueResult:
    """Invitations by hand (a tag, an uploaded list): context ``manual``, so a member picked
    twice for the same survey is invited once."""
    return invitations_issue(
        survey=survey,
        candidates=(
            Candidate(customer_id=pk, context="manual") for pk in sorted(set(customer_ids))
        ),
        channels=channels,
        at=at,
    )


def invitations_after_purchase(
    *, as_of: dt.datetime | None = None, lookback_days: int = 7
) -> dict[str, IssueResult]:
    """For each live after-purchase survey: invite the members whose paid orders were placed
    ``delay_days`` ago (looking back ``lookback_days`` more, so a missed run catches up),
    filtered by the survey's stores and channels, sampled. Safe to run twice: an order is
    considered once per survey (sent or skipped)."""
    now = as_of or timezone.now()
    out = {}
    for survey in Survey.objects.filter(
        status=SurveyStatus.LIVE, trigger=SurveyTrigger.AFTER_PURCHASE
    ).prefetch_related("trigger_stores"):
        until = now - dt.timedelta(days=survey.delay_days)
        since = until - dt.timedelta(days=lookback_days + 1)
        orders = Order.objects.filter(
            customer__isnull=False,
            customer__merged_into__isnull=True,
            placed_at__gt=since,
            placed_at__lte=until,
        ).exclude(status="refunded")
        stores = [s.pk for s in survey.trigger_stores.all()]
        if stores:
            orders = orders.filter(store_id__in=stores)
        if survey.trigger_channels:
            orders = orders.filter(channel__in=survey.trigger_channels)
        for model in (Invitation, AskedMark):
            orders = orders.exclude(
                pk__in=model.objects.filter(survey=survey, order__isnull=False).values("order_id")
            )
        rows = orders.order_by("placed_at", "id").values_list("pk", "customer_id", "store_id")
        out[survey.slug] = invitations_issue(
            survey=survey,
            candidates=(
                Candidate(customer_id=c, context=f"order:{pk}", order_id=pk, store_id=s)
                for pk, c, s in rows.iterator(chunk_size=BATCH)
            ),
            sample=True,
            at=now,
        )
    return out


def on_ticket_resolved(event: Event) -> None:
    """``ticket.resolved`` (after commit, from the outbox): invite the ticket's member to each
    live after-ticket survey, once per ticket (the context is the ticket)."""
    customer_id = event.payload.get("customer_id")
    if customer_id is None:
        return
    for survey in Survey.objects.filter(
        status=SurveyStatus.LIVE, trigger=SurveyTrigger.AFTER_TICKET_RESOLVED
    ):
        invitations_issue(
            survey=survey,
            candidates=[
                Candidate(customer_id=customer_id, context=f"ticket:{event.payload['ticket_id']}")
            ],
            sample=True,
        )


@dataclass(frozen=True)
class ReceiptLink:
    invitation: Invitation
    created: bool  # False: the link printed before for the same order (a reprint)


def receipt_link(
    *,
    survey: Survey,
    customer: Customer | None = None,
    order: Order | None = None,
    store: Store | None = None,
    at: dt.datetime | None = None,
) -> ReceiptLink:
    """A receipt link for a till to print as a QR code. The order's member is the member
    (a merged-away one answers as the survivor); a member given with an order that belongs to
    somebody else is refused (``OrderMemberMismatch``) and nothing is written. The same order
    again gives the same link (a reprint, ``created=False``). Without a member it is anonymous.
    A member who cannot be asked now (within the cooldown, anonymised) is refused with
    ``NotEligible``; the skip stays recorded with its reason."""
    if order is not None and order.customer_id is not None:
        owner = customer_survivor(order.customer)
        if customer is not None and customer_survivor(customer).pk != owner.pk:
            raise OrderMemberMismatch()
        customer = owner
    link = _receipt_invitation(survey=survey, customer=customer, order=order, store=store, at=at)
    if link.invitation.status == InvitationStatus.SKIPPED:
        raise NotEligible(SkipReason(link.invitation.skip_reason).label)
    return link


def invitation_for_receipt(**kwargs) -> Invitation:
    """``receipt_link``'s invitation."""
    return receipt_link(**kwargs).invitation


@transaction.atomic
def _receipt_invitation(*, survey, customer, order, store, at) -> ReceiptLink:
    if survey.status != SurveyStatus.LIVE:
        raise SurveyNotOpen()
    if order is not None:
        existing = Invitation.objects.filter(survey=survey, order=order).first()
        if existing is not None:
            return ReceiptLink(existing, created=False)
        if AskedMark.objects.filter(survey=survey, order=order).exists():
            raise AlreadyAnswered()  # anonymously: the invitation no longer names the order
        store = store or order.store
    now = at or timezone.now()
    reason = ""
    if customer is not None:
        if customer.anonymized_at is not None:
            reason = SkipReason.ANONYMISED
        else:
            cooldown = Programme.get().survey_cooldown_days
            last = Invitation.objects.filter(
                customer=customer, status=InvitationStatus.SENT
            ).aggregate(last=Max("sent_at"))["last"]
            marked = AskedMark.objects.filter(customer=customer).aggregate(last=Max("asked_on"))[
                "last"
            ]
            if cooldown and within_cooldown(last, marked, now=now, days=cooldown):
                reason = SkipReason.COOLDOWN
    token = token_new()
    context = f"order:{order.pk}" if order is not None else f"receipt:{token[:16]}"
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                survey=survey,
                customer=customer,
                token=token,
                channel=InvitationChannel.RECEIPT,
                status=InvitationStatus.SKIPPED if reason else InvitationStatus.SENT,
                skip_reason=reason,
                context=context,
                order=order,
                store=store,
                created_at=now,
                sent_at=None if reason else now,
                expires_at=None if reason else now + dt.timedelta(days=survey.valid_days),
            )
    except IntegrityError:
        if order is None:
            raise
        # The same order at the same moment from another till: the first one's link.
        return ReceiptLink(Invitation.objects.get(survey=survey, order=order), created=False)
    return ReceiptLink(invitation, created=True)


# --- e-mail -------------------------------------------------------------------------------------


def _email_allowed(customer: Customer, now: dt.datetime) -> bool:
    latest = (
        ConsentRecord.objects.filter(
            customer=customer, channel=Channel.EMAIL, purpose=ConsentPurpose.SURVEYS, at__lte=now
        )
        .order_by("-at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest) and bool(customer.email) and customer.anonymized_at is None


def invitation_email_send(*, invitation_id: int, now: dt.datetime | None = None) -> str:
    """Send one queued invitation e-mail in the member's language, re-checking consent at send
    time; records and returns the e-mail status. Safe to run twice (only a queued one is sent)."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("survey", "customer")
            .filter(pk=invitation_id, email_status=EmailStatus.QUEUED)
            .first()
        )
        if invitation is None:
            return ""
        customer = invitation.customer
        if customer is None or not _email_allowed(customer, now):
            status = EmailStatus.SUPPRESSED
        else:
            status = EmailStatus.SENT
        Invitation.objects.filter(pk=invitation.pk).update(email_status=status)
    if status == EmailStatus.SENT:
        _email(invitation)
    return status


def _email(invitation: Invitation) -> None:
    customer, survey = invitation.customer, invitation.survey
    unsubscribe = f"{settings.SITE_URL.rstrip('/')}" + reverse(
        "portal:unsubscribe",
        kwargs={
            "token": unsubscribe_token_make(
                customer=customer, channel=Channel.EMAIL, purpose=ConsentPurpose.SURVEYS
            )
        },
    )
    with translation.override(customer.preferred_language or settings.LANGUAGE_CODE):
        subject, text = _invitation_text(survey=survey, invitation=invitation)
        context = {
            "survey": survey,
            "customer": customer,
            "url": survey_link(invitation.token),
            "expires_at": invitation.expires_at,
            "reward_points": survey.reward_points,
            "unsubscribe_url": unsubscribe,
        }
        text = render_to_string("emails/survey_invitation.txt", context)
        html = render_to_string("emails/survey_invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[customer.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    message.send()


def on_survey_invited(event: Event) -> None:
    """``survey.invited`` (after commit, from the outbox): send the e-mails."""
    now = timezone.now()
    for invitation_id in event.payload["invitation_ids"]:
        invitation_email_send(invitation_id=invitation_id, now=now)

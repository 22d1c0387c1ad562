"""Writes for customer profiles, consent, tags and interactions.

Each service is one transaction and writes its audit event inside it (invariant 8). Order and
refund recording is idempotent through unique keys in the database (invariant 2), never through
"does it exist?" checks alone.
"""

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record, changed_fields, model_snapshot
from apps.core.text import text_check, text_problems

from ..enums import Channel, ConsentPurpose, InteractionKind, Source
from ..exceptions import AlreadyEnrolled
from ..identifiers import member_number_generate, phone_normalize
from ..models import ConsentRecord, Customer, Interaction, Tag
from ..selectors import customer_get_by_contact

# What identifies or describes the person (erasure blanks these).
PERSONAL_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "region",
]
# The profile staff, the member, integrations and imports may set: the personal fields and the
# preferences and enrolment store.
PREFERENCE_FIELDS = ["preferred_language", "preferred_channel"]
PROFILE_FIELDS = [*PERSONAL_FIELDS, *PREFERENCE_FIELDS, "store"]
_MEMBER_NUMBER_ATTEMPTS = 8


def customer_search_text(
    *, first_name: str, last_name: str, email: str, phone: str, member_number: str
) -> str:
    """What search-as-you-type matches against: lower-case, names both ways round (Chinese
    names are written family name first without a space)."""
    parts = [
        first_name,
        last_name,
        f"{last_name}{first_name}",
        email,
        phone,
        phone.lstrip("+"),
        member_number,
    ]
    return re.sub(r"\s+", " ", " ".join(p for p in parts if p)).lower()


def _refresh_search_text(customer: Customer) -> None:
    customer.search_text = customer_search_text(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        member_number=customer.member_number,
    )


def customer_profile_problems(
    data: dict[str, Any], *, current: Customer | None = None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The one clean of a customer profile, for every way in (staff pages, portal, API, admin,
    imports): the values normalised (E.164 phone, lower-case e-mail, trimmed names) and what is
    wrong with them as ``(field, message)`` pairs. ``current`` is the customer being changed
    (``data`` then holds only the changes).

    The minimum-contact rule: a customer needs an e-mail address or a phone number — to be
    found, reached and to claim their membership — so a new customer must have one and a change
    may not take away the last one. Control characters are refused in every text field
    (``apps.core.text``); such a field is not checked further."""
    out = dict(data)
    problems = text_problems(out, [*PERSONAL_FIELDS, *PREFERENCE_FIELDS])
    garbled = {field for field, _m in problems}
    if "phone" in out and "phone" not in garbled:
        try:
            out["phone"] = phone_normalize(out["phone"] or "")
        except ValidationFailed as exc:
            problems.append(("phone", exc.message))
    if "email" in out and "email" not in garbled:
        out["email"] = (out["email"] or "").strip().lower()
        if out["email"]:
            try:
                validate_email(out["email"])
            except DjangoValidationError:
                problems.append(("email", _("Enter a valid e-mail address.")))
    for key in ("first_name", "last_name", "city", "region"):
        if key in out and key not in garbled:
            out[key] = (out[key] or "").strip()
    if out.get("birth_date") and out["birth_date"] > timezone.localdate():
        problems.append(("birth_date", _("The birth date is in the future.")))
    touches_contact = current is None or "email" in out or "phone" in out
    if touches_contact and not any(field in ("email", "phone") for field, _m in problems):
        email = out["email"] if "email" in out else getattr(current, "email", "")
        phone = out["phone"] if "phone" in out else getattr(current, "phone", "")
        if not email and not phone:
            problems.append(("email", _("A member needs an e-mail address or a phone number.")))
    return out, problems


def customer_profile_clean(
    data: dict[str, Any], *, current: Customer | None = None
) -> dict[str, Any]:
    """``customer_profile_problems``, refusing the first problem as ``ValidationFailed`` on its
    field; returns the normalised values."""
    out, problems = customer_profile_problems(data, current=current)
    if problems:
        field, message = problems[0]
        raise ValidationFailed(message, field=field)
    return out


def customer_contact_unique_check(*, email: str = "", phone: str = "") -> None:
    """Integrations enrol a person once: an e-mail or phone already on an active customer is
    ``AlreadyEnrolled`` (409, with that member's number), as imports skip such rows. (Staff and
    the portal may still enrol a second membership: the portal tags it for review.) Call it
    inside the enrolling transaction: on PostgreSQL it locks the contact until that commits."""
    cleaned = customer_profile_clean({"email": email, "phone": phone}) if email or phone else {}
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        # Two enrolments of one contact at once: the second waits for the first to commit and
        # then finds it. Held to the end of the caller's transaction.
        with connection.cursor() as cursor:
            for contact in sorted(v for v in cleaned.values() if v):
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"contact:{contact}"]
                )
    existing = customer_get_by_contact(
        email=cleaned.get("email", ""), phone=cleaned.get("phone", "")
    )
    if existing is not None:
        raise AlreadyEnrolled(member_number=existing.member_number)


def customer_create(
    *,
    actor: User | None = None,
    source: str = Source.STAFF,
    joined_at: dt.datetime | None = None,
    consents: Iterable[tuple[str, str, bool]] = (),
    consent_source: str = "",
    tags: Iterable[str] = (),
    **profile: Any,
) -> Customer:
    """Enrol a customer with a fresh member number (retried on the rare collision)."""
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown profile fields: {sorted(unknown)}")
    profile = customer_profile_clean(dict(profile))
    for _attempt in range(_MEMBER_NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                customer = Customer(
                    member_number=member_number_generate(),
                    source=source,
                    joined_at=joined_at or timezone.now(),
                    **profile,
                )
                _refresh_search_text(customer)
                customer.save()
                for channel, purpose, granted in consents:
                    _consent_write(
                        customer=customer,
                        channel=channel,
                        purpose=purpose,
                        granted=granted,
                        source=consent_source or source,
                        actor=actor,
                    )
                for name in tags:
                    customer.tags.add(_tag_get_or_create(name))
                audit_record(
                    actor=actor,
                    action="customer.create",
                    target=customer,
                    summary=customer.member_number,
                    after=model_snapshot(customer, PROFILE_FIELDS),
                )
                events.publish("customer.enrolled", customer_id=customer.pk)
                return customer
        except IntegrityError:
            if Customer.objects.filter(member_number=customer.member_number).exists():
                continue  # member-number collision: draw another
            raise
    raise RuntimeError("Could not draw a free member number.")


@transaction.atomic
def customer_update(*, customer: Customer, actor: User | None, **changes: Any) -> Customer:
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown profile fields: {sorted(unknown)}")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = model_snapshot(customer, PROFILE_FIELDS)
    for key, value in customer_profile_clean(dict(changes), current=customer).items():
        setattr(customer, key, value)
    _refresh_search_text(customer)
    customer.save()
    old, new = changed_fields(before, model_snapshot(customer, PROFILE_FIELDS))
    if new:
        audit_record(
            actor=actor,
            action="customer.update",
            target=customer,
            summary=", ".join(sorted(new)),
            before=old,
            after=new,
        )
    return customer


def _tag_get_or_create(name: str) -> Tag:
    name = name.strip()
    if not name:
        raise ValidationFailed(_("A tag needs a name."))
    text_check(name=name)
    tag, _created = Tag.objects.get_or_create(name__iexact=name, defaults={"name": name[:50]})
    return tag


@transaction.atomic
def customer_tag_add(*, customer: Customer, name: str, actor: User | None) -> Tag:
    tag = _tag_get_or_create(name)
    if not customer.tags.filter(pk=tag.pk).exists():
        customer.tags.add(tag)
        audit_record(actor=actor, action="customer.tag_add", target=customer, summary=tag.name)
    return tag


@transaction.atomic
def customer_tag_remove(*, customer: Customer, tag: Tag, actor: User | None) -> None:
    if customer.tags.filter(pk=tag.pk).exists():
        customer.tags.remove(tag)
        audit_record(actor=actor, action="customer.tag_remove", target=customer, summary=tag.name)


@transaction.atomic
def customer_tags_set(*, customer: Customer, names: list[str], actor: User | None) -> None:
    """Make the customer's tags exactly ``names`` (case-insensitive): add the missing and remove
    the extra through ``customer_tag_add`` / ``customer_tag_remove``, one audit event each."""
    for name in names:
        text_check(tags=name)
    cleaned = (name.strip()[:50] for name in names)  # Tag.name holds 50 characters
    wanted = {name.lower(): name for name in cleaned if name}
    current = {tag.name.lower(): tag for tag in customer.tags.order_by("pk")}
    for key in sorted(wanted.keys() - current.keys()):
        customer_tag_add(customer=customer, name=wanted[key], actor=actor)
    for key in sorted(current.keys() - wanted.keys()):
        customer_tag_remove(customer=customer, tag=current[key], actor=actor)


def _consent_write(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    actor: User | None,
    evidence: str = "",
    at: dt.datetime | None = None,
) -> ConsentRecord:
    if channel not in Channel.values or purpose not in ConsentPurpose.values:
        raise ValidationFailed(_("Unknown consent channel or purpose."))
    record = ConsentRecord.objects.create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        evidence=evidence[:255],
        actor=actor if actor is not None and actor.pk else None,
        at=at or timezone.now(),
    )
    audit_record(
        actor=actor,
        action="consent.grant" if granted else "consent.withdraw",
        target=customer,
        summary=f"{channel}/{purpose}",
        after={"channel": channel, "purpose": purpose, "granted": granted, "source": source},
    )
    events.publish(
        "consent.changed",
        customer_id=customer.pk,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
    )
    return record


@transaction.atomic
def consent_record(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    actor: User | None = None,
    evidence: str = "",
) -> ConsentRecord:
    """Append a consent change (history row, latest wins) with its audit event."""
    return _consent_write(
        customer=customer,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        actor=actor,
        evidence=evidence,
    )


@transaction.atomic
def interaction_log(
    *,
    customer: Customer,
    kind: str,
    summary: str,
    actor: User | None,
    body: str = "",
    at: dt.datetime | None = None,
) -> Interaction:
    if kind not in InteractionKind.values:
        raise ValidationFailed(_("Unknown interaction kind."))
    if not summary.strip():
        raise ValidationFailed(_("An interaction needs a summary."))
    text_check(summary=summary, body=body, multiline=["body"])
    interaction = Interaction.objects.create(
        customer=customer,
        kind=kind,
        summary=summary.strip()[:200],
        body=body,
        author=actor,
        at=at or timezone.now(),
    )
    audit_record(actor=actor, action="interaction.create", target=customer, summary=kind)
    return interaction


@transaction.atomic
def customer_email_sync(*, user: User) -> Customer | None:
    """Copy the portal account's verified primary e-mail to its membership, through
    ``customer_update`` (audited, the member as actor). Called when allauth reports a changed
    primary or a confirmed address. An unverified or non-primary address never reaches the
    customer; staff accounts and anonymised memberships have nothing to sync. Returns the
    updated customer, or None when nothing changed."""
    address = (
        EmailAddress.objects.filter(user=user, primary=True, verified=True)
        .values_list("email", flat=True)
        .first()
    )
    customer = Customer.objects.filter(
        user=user, anonymized_at__isnull=True, merged_into__isnull=True
    ).first()
    if not address or customer is None or customer.email == address.strip().lower():
        return None
    return customer_update(customer=customer, actor=user, email=address)


@transaction.atomic
def customer_phone_sync(*, user_id: int) -> Customer | None:
    """Copy the portal account's verified mobile number to its membership, through
    ``customer_update`` (audited, the member as actor), as ``customer_email_sync`` does for the
    e-mail: a member who changes their number in account settings changes it on their card.
    An unverified number never reaches the customer; staff accounts and anonymised memberships
    have nothing to sync. Returns the updated customer, or None when nothing changed."""
    user = User.objects.filter(pk=user_id, phone_verified=True).first()
    customer = Customer.objects.filter(user_id=user_id, anonymized_at__isnull=True).first()
    if user is None or customer is None or customer.phone == user.phone:
        return None
    return customer_update(customer=customer, actor=user, phone=user.phone)


def on_phone_verified(event: events.Event) -> None:
    """``account.phone_verified``, in the verifying transaction: the membership follows."""
    customer_phone_sync(user_id=event.payload["user_id"])


def on_email_changed(sender, *, user, **kwargs) -> None:
    """allauth's ``email_changed``: a member who changes their e-mail at /accounts/email/
    changes it on the membership."""
    customer_email_sync(user=user)


def on_email_confirmed(sender, *, email_address, **kwargs) -> None:
    """allauth's ``email_confirmed``: a confirmed secondary address stays the account's own."""
    if email_address.primary:
        customer_email_sync(user=email_address.user)

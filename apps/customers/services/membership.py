"""Portal membership: claiming the membership a till created, or enrolling a new one.

Claim rules (what links a portal ``User`` to a ``Customer``):

1. Only a contact point the member has *proved* they control can link: an e-mail address that
   allauth has verified (e-mail sign-up is blocked until it is), or a mobile number confirmed
   with a one-time code sent by SMS to that number -- at phone sign-up or sign-in, or in account
   settings (allauth's phone verification, kept as the account's verified phone), or on the
   join page (``phone_code_send``). An unverified e-mail address or phone never links.
2. Only customers that are not anonymised and not linked to any user are candidates. A customer
   linked to another user is never re-linked, whatever matches; a user holds at most one
   customer (a one-to-one key in the database makes both hold under concurrency too).
3. The account's verified e-mail and verified phone together pointing at exactly one candidate
   → the member may claim it (one click). Several candidates share the e-mail or phone, or the
   e-mail points at one and the phone at another → we never guess: the member must also give
   the member number printed on their card, and it must be one of the candidates whose phone
   they have verified by SMS code. Otherwise they can enrol anew; a new membership whose
   verified e-mail or phone also belongs to other memberships is tagged ``REVIEW_TAG`` so
   staff can merge by hand.
   Contact permissions ticked at sign-up are applied to a claimed membership (grants only).
4. Staff accounts (``is_staff``) never hold a membership: staff who shop use a personal e-mail
   for a separate portal account. Claims and enrolments by staff are refused.

Enrolment creates a customer with a fresh member number, source "portal" and the consents the
member ticked, all with their audit events, and links it to the user in the same transaction.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.selectors import verified_phone_get
from apps.core.services import audit_record
from apps.core.sms import SmsSendFailed, get_sms_backend

from ..enums import REVIEW_TAG, Source
from ..exceptions import (
    AlreadyMember,
    ClaimNotPossible,
    PhoneCodeInvalid,
    SmsUnavailable,
    StaffCannotBeMember,
)
from ..identifiers import phone_code_cache_key, phone_normalize
from ..models import Customer
from ..selectors import verified_email_get
from .consent import consent_preferences_save
from .profile import customer_create, customer_tag_add

PHONE_CODE_TTL_SECONDS = 10 * 60
PHONE_CODE_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ClaimOptions:
    """What the join page can offer a signed-in user without a membership."""

    is_staff: bool
    verified_email: str
    verified_phone: str
    email_candidates: int  # unlinked, non-anonymised customers with the verified e-mail
    phone_candidates: int  # ... with the verified phone
    email_linked_elsewhere: bool  # the e-mail belongs to a membership of another account
    phone_linked_elsewhere: bool  # the phone belongs to a membership of another account
    claimable: Customer | None  # the verified contacts point at exactly one candidate → it


def _candidates() -> QuerySet[Customer]:
    return Customer.objects.filter(
        anonymized_at__isnull=True, user__isnull=True, merged_into__isnull=True
    )


def _contact_match(*, email: str, phone: str) -> Q | None:
    """Customers with this e-mail (any case) or this phone (E.164); None when both are blank."""
    match = Q()
    if email:
        match |= Q(email__iexact=email)
    if phone:
        match |= Q(phone=phone)
    return match or None


def _verified_contacts(user: User) -> tuple[str, str]:
    return verified_email_get(user=user), verified_phone_get(user=user)


def _linked_elsewhere(user: User, match: Q) -> bool:
    return (
        Customer.objects.filter(match, anonymized_at__isnull=True, merged_into__isnull=True)
        .exclude(user__isnull=True)
        .exclude(user=user)
        .exists()
    )


def membership_options(*, user: User) -> ClaimOptions:
    email, phone = _verified_contacts(user)
    by_email = list(_candidates().filter(email__iexact=email)[:3]) if email else []
    by_phone = list(_candidates().filter(phone=phone)[:3]) if phone else []
    pointed = {c.pk: c for c in [*by_email, *by_phone]}
    return ClaimOptions(
        is_staff=user.is_staff,
        verified_email=email,
        verified_phone=phone,
        email_candidates=len(by_email),
        phone_candidates=len(by_phone),
        email_linked_elsewhere=bool(email) and _linked_elsewhere(user, Q(email__iexact=email)),
        phone_linked_elsewhere=bool(phone) and _linked_elsewhere(user, Q(phone=phone)),
        claimable=next(iter(pointed.values())) if len(pointed) == 1 else None,
    )


def _check_can_join(user: User) -> None:
    if user.is_staff:
        raise StaffCannotBeMember()
    if Customer.objects.filter(user=user).exists():
        raise AlreadyMember()


def _link(*, customer: Customer, user: User, method: str) -> Customer:
    """Link inside the caller's transaction, with the customer row locked: two claims of one
    membership cannot both win, and a linked membership is never taken over."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if (
        locked.user_id is not None
        or locked.anonymized_at is not None
        or locked.merged_into_id is not None
    ):
        raise ClaimNotPossible()
    locked.user = user
    locked.save(update_fields=["user", "updated_at"])
    audit_record(
        actor=user,
        action="membership.claim",
        target=locked,
        summary=method,
        after={"user": user.pk, "method": method},
    )
    return locked


def _carry_over_grants(
    customer: Customer, user: User, consents: Iterable[tuple[str, str, bool]]
) -> None:
    """Permissions ticked at sign-up apply to the claimed membership too. Only grants are carried
    over: an unticked box does not silently withdraw what the member agreed to in store."""
    grants = {(channel, purpose): True for channel, purpose, granted in consents if granted}
    if grants:
        consent_preferences_save(
            customer=customer,
            choices=grants,
            actor=user,
            source="portal_signup",
            evidence="portal sign-up form",
        )


@transaction.atomic
def membership_claim_verified(
    *, user: User, consents: Iterable[tuple[str, str, bool]] = ()
) -> Customer:
    """Claim the one membership that the user's verified e-mail and verified phone point at
    (rules 1 and 3): both contacts are matched together, and anything but exactly one candidate
    is refused -- nothing is guessed. The audit summary names the contact that matched."""
    _check_can_join(user)
    email, phone = _verified_contacts(user)
    match = _contact_match(email=email, phone=phone)
    if match is None:
        raise ClaimNotPossible(_("Please verify your e-mail address or mobile number first."))
    candidates = list(_candidates().filter(match).order_by("pk")[:2])
    if len(candidates) != 1:
        raise ClaimNotPossible()
    candidate = candidates[0]
    method = "email" if email and candidate.email.strip().lower() == email else "phone"
    customer = _link(customer=candidate, user=user, method=method)
    _carry_over_grants(customer, user, consents)
    return customer


def _code_key(user: User) -> str:
    return phone_code_cache_key(user.pk)


def _code_digest(code: str, phone: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{phone}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def phone_code_send(*, user: User, phone: str) -> bool:
    """Send a 6-digit code by SMS to ``phone`` if some unclaimed membership uses it. Returns
    whether a code was sent; callers show the same message either way, so the answer does not
    reveal who is a member. Only the number's hash of code is kept (in the cache, 10 minutes)."""
    _check_can_join(user)
    phone = phone_normalize(phone)
    if not phone or not _candidates().filter(phone=phone).exists():
        cache.delete(_code_key(user))
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(
        _code_key(user),
        # "n" names this code's attempt slots: a new code starts with all of them free.
        {"phone": phone, "digest": _code_digest(code, phone), "n": secrets.token_hex(8)},
        PHONE_CODE_TTL_SECONDS,
    )
    body = _("Your Clientele membership code is %(code)s. It expires in 10 minutes.") % {
        "code": code
    }
    try:
        get_sms_backend().send(to=phone, body=body)
    except SmsSendFailed as exc:
        raise SmsUnavailable() from exc
    return True


def _attempt_take(*, user: User, nonce: str) -> bool:
    """Take one of the code's ``PHONE_CODE_MAX_ATTEMPTS`` attempt slots; False when all are
    gone. Each slot is a ``cache.add``, which is atomic on every cache we run (Redis SET NX,
    the database cache's primary key, locmem's lock) -- unlike ``cache.incr``, which the
    database cache does as get-then-set -- so parallel guesses cannot get more tries."""
    base = f"{_code_key(user)}:{nonce}:try"
    return any(
        cache.add(f"{base}:{slot}", 1, PHONE_CODE_TTL_SECONDS)
        for slot in range(PHONE_CODE_MAX_ATTEMPTS)
    )


def _phone_code_check(*, user: User, phone: str, code: str) -> None:
    """Every check spends an attempt before comparing, right or wrong, so at most
    ``PHONE_CODE_MAX_ATTEMPTS`` guesses are ever compared per code; a right one is used up."""
    state = cache.get(_code_key(user))
    if not state or state["phone"] != phone:
        raise PhoneCodeInvalid()
    if not _attempt_take(user=user, nonce=str(state.get("n", ""))):
        cache.delete(_code_key(user))
        raise PhoneCodeInvalid()
    if not hmac.compare_digest(state["digest"], _code_digest(code.strip(), phone)):
        raise PhoneCodeInvalid()
    cache.delete(_code_key(user))  # single use


def membership_claim_by_phone(
    *,
    user: User,
    phone: str,
    code: str,
    member_number: str = "",
    consents: Iterable[tuple[str, str, bool]] = (),
) -> Customer:
    """Claim by a phone number proved with the SMS code (rules 1-3). When several memberships
    share the number the member number is required and must be one of them. The code is
    checked before the claim's transaction opens: with the database cache a refused guess
    would otherwise be rolled back with it and never count."""
    _check_can_join(user)
    phone = phone_normalize(phone)
    _phone_code_check(user=user, phone=phone, code=code)
    return _claim_by_phone(user=user, phone=phone, member_number=member_number, consents=consents)


@transaction.atomic
def _claim_by_phone(
    *, user: User, phone: str, member_number: str, consents: Iterable[tuple[str, str, bool]]
) -> Customer:
    candidates = list(_candidates().filter(phone=phone).order_by("id"))
    member_number = (member_number or "").strip()
    if member_number:
        candidates = [c for c in candidates if c.member_number == member_number]
    if len(candidates) != 1:
        if not member_number and len(candidates) > 1:
            raise ClaimNotPossible(
                _(
                    "Several memberships use this phone number. Enter the member number from "
                    "your card as well."
                )
            )
        raise ClaimNotPossible()
    customer = _link(customer=candidates[0], user=user, method="phone")
    _carry_over_grants(customer, user, consents)
    return customer


@transaction.atomic
def membership_enrol(
    *,
    user: User,
    first_name: str = "",
    last_name: str = "",
    consents: Iterable[tuple[str, str, bool]] = (),
    evidence: str = "",
) -> Customer:
    """Create a new membership for ``user`` (source "portal", consents as ticked, actor None)
    with the account's verified e-mail and verified phone, and link it. If other memberships
    share either, tag for staff review."""
    _check_can_join(user)
    email, phone = _verified_contacts(user)
    match = _contact_match(email=email, phone=phone)
    if match is None:
        raise ClaimNotPossible(_("Please verify your e-mail address or mobile number first."))
    customer = customer_create(
        actor=None,
        source=Source.PORTAL,
        consents=consents,
        consent_source="portal_signup",
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        preferred_language=_language_code(user),
    )
    if (
        Customer.objects.filter(match, anonymized_at__isnull=True, merged_into__isnull=True)
        .exclude(pk=customer.pk)
        .exists()
    ):
        customer_tag_add(customer=customer, name=REVIEW_TAG, actor=None)
    if evidence:
        # Consent evidence (how the member agreed) belongs to the consent rows just written.
        customer.consents.update(evidence=evidence[:255])
    linked = _link(customer=customer, user=user, method="enrol")
    if first_name or last_name:
        User.objects.filter(pk=user.pk, full_name="").update(
            full_name=f"{first_name} {last_name}".strip()
        )
    return linked


def _language_code(user: User) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    return user.language if user.language in codes else settings.LANGUAGE_CODE

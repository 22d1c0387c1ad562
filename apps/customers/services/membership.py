"""Portal membership: claiming the membership a till created, or enrolling a new one.

Claim rules (what links a portal ``User`` to a ``Customer``):

1. Only a contact point the member has *proved* they control can link: an e-mail address that
   allauth has verified (sign-up is blocked until it is), or a phone number confirmed with a
   one-time code sent by SMS to that number.
2. Only customers that are not anonymised and not linked to any user are candidates. A customer
   linked to another user is never re-linked, whatever matches; a user holds at most one
   customer (a one-to-one key in the database makes both hold under concurrency too).
3. Verified e-mail matching exactly one candidate → the member may claim it (one click).
   Several candidates share the e-mail or phone → we never guess: the member must also give
   the member number printed on their card, and it must be one of the candidates whose phone
   they have verified by SMS code. Otherwise they can enrol anew; a new membership whose
   verified e-mail also belongs to other memberships is tagged ``REVIEW_TAG`` so
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
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.services import audit_record
from apps.core.sms import get_sms_backend

from ..enums import REVIEW_TAG, Source
from ..exceptions import AlreadyMember, ClaimNotPossible, PhoneCodeInvalid, StaffCannotBeMember
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
    email_candidates: int  # unlinked, non-anonymised customers with the verified e-mail
    email_linked_elsewhere: bool  # the e-mail belongs to a membership of another account
    email_claimable: Customer | None  # exactly one candidate → this one


def _candidates() -> "models.QuerySet[Customer]":  # noqa: F821 - typing only
    return Customer.objects.filter(
        anonymized_at__isnull=True, user__isnull=True, merged_into__isnull=True
    )


def membership_options(*, user: User) -> ClaimOptions:
    email = verified_email_get(user=user)
    candidates = list(_candidates().filter(email__iexact=email)[:3]) if email else []
    linked_elsewhere = bool(email) and (
        Customer.objects.filter(
            email__iexact=email, anonymized_at__isnull=True, merged_into__isnull=True
        )
        .exclude(user__isnull=True)
        .exclude(user=user)
        .exists()
    )
    return ClaimOptions(
        is_staff=user.is_staff,
        verified_email=email,
        email_candidates=len(candidates),
        email_linked_elsewhere=linked_elsewhere,
        email_claimable=candidates[0] if len(candidates) == 1 else None,
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
def membership_claim_by_email(
    *, user: User, consents: Iterable[tuple[str, str, bool]] = ()
) -> Customer:
    """Claim the one membership whose e-mail equals the user's verified e-mail (rule 3)."""
    _check_can_join(user)
    email = verified_email_get(user=user)
    if not email:
        raise ClaimNotPossible(_("Please verify your e-mail address first."))
    candidates = list(_candidates().filter(email__iexact=email)[:2])
    if len(candidates) != 1:
        raise ClaimNotPossible()
    customer = _link(customer=candidates[0], user=user, method="email")
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
    get_sms_backend().send(to=phone, body=body)
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
    and link it. If other memberships share the verified e-mail, tag for staff review."""
    _check_can_join(user)
    email = verified_email_get(user=user)
    if not email:
        raise ClaimNotPossible(_("Please verify your e-mail address first."))
    customer = customer_create(
        actor=None,
        source=Source.PORTAL,
        consents=consents,
        consent_source="portal_signup",
        first_name=first_name,
        last_name=last_name,
        email=email,
        preferred_language=_language_code(user),
    )
    if (
        Customer.objects.filter(
            email__iexact=email, anonymized_at__isnull=True, merged_into__isnull=True
        )
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

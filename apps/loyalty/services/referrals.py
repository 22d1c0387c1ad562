"""Referrals: a code per member, registration of a referred friend, both-side rewards on the
friend's first purchase.

Invariants: a refused registration raises NotEligible and writes nothing (self-referral, a
friend who already has a referrer or has already bought, the same e-mail or phone as the
referrer, a circular chain). The referee is unique on Referral (database backstop for
concurrent registrations). The rewards are paid once: the referral row is locked, its status
moves to rewarded, and the bonus ledger keys ``bonus:referral:<id>:referrer|referee`` are
unique.

Lock order: the hook runs inside the referee's order transaction, which already holds the
referee's account lock, and then locks the referrer's account. Circular referral chains are
refused at registration, so no two first orders can wait on each other's accounts.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.db import in_ids
from apps.core.events import Event
from apps.customers.models import Customer, Order
from apps.customers.selectors import customer_survivor
from apps.customers.services import (
    customer_contact_unique_check,
    customer_create,
    membership_enrol,
)

from ..codes import code_compact, referral_code_generate
from ..enums import BonusKind, ReferralStatus
from ..exceptions import NotEligible
from ..models import Programme, Referral, ReferralCode
from .badges import BadgeFacts, badges_evaluate
from .bonuses import Bonus, BonusBatch, bonus_give


@transaction.atomic
def referral_code_for(*, customer: Customer) -> ReferralCode:
    """The member's referral code, created on first use (race-safe: unique customer and code)."""
    if (existing := ReferralCode.objects.filter(customer=customer).first()) is not None:
        return existing
    for _attempt in range(10):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(customer=customer, code=referral_code_generate())
        except IntegrityError:
            if (existing := ReferralCode.objects.filter(customer=customer).first()) is not None:
                return existing
    raise RuntimeError("could not allocate a unique referral code")


def _same_contact(a: Customer, b: Customer) -> bool:
    same_email = bool(a.email) and a.email.strip().lower() == (b.email or "").strip().lower()
    same_phone = bool(a.phone) and a.phone == b.phone
    return same_email or same_phone


def _is_upline(*, member: Customer, of: Customer) -> bool:
    """Whether ``member`` referred ``of`` directly or through a chain."""
    seen: set[int] = set()
    current = of.pk
    while current is not None and current not in seen:
        seen.add(current)
        current = (
            Referral.objects.filter(referee_id=current)
            .values_list("referrer_id", flat=True)
            .first()
        )
        if current == member.pk:
            return True
    return False


@transaction.atomic
def referral_register(*, referee: Customer, code: str) -> Referral:
    """Record that ``referee`` joined with ``code``. The rewards follow their first purchase."""
    found = ReferralCode.objects.select_related("customer").filter(code=code_compact(code)).first()
    if found is None:
        raise NotEligible(_("There is no referral code “%(code)s”.") % {"code": code.strip()})
    # The code of a merged-away member keeps working: it refers for the survivor.
    referrer = customer_survivor(found.customer)
    if referrer.pk == referee.pk:
        raise NotEligible(_("Members cannot refer themselves."))
    if referrer.anonymized_at is not None:
        raise NotEligible(_("This referral code is no longer valid."))
    if Referral.objects.filter(referee=referee).exists():
        raise NotEligible(_("This member was already referred by someone."))
    if Order.objects.filter(customer=referee).exists():
        raise NotEligible(_("Only new members who have not bought yet can be referred."))
    if _same_contact(referee, referrer):
        raise NotEligible(
            _("The referred member has the same e-mail or phone number as the referrer.")
        )
    if _is_upline(member=referee, of=referrer):
        raise NotEligible(_("Members cannot refer the member who referred them."))
    try:
        with transaction.atomic():
            return Referral.objects.create(referrer=referrer, referee=referee, code=found.code)
    except IntegrityError as exc:  # a concurrent registration of the same referee won
        raise NotEligible(_("This member was already referred by someone.")) from exc


@transaction.atomic
def customer_enrol_referred(
    *, referral_code: str, contact_unique: bool = False, **enrol: Any
) -> Customer:
    """Enrol a member (``customer_create`` arguments) who names a referral code, in one
    transaction: a code that cannot be used (NotEligible) enrols nobody. With
    ``contact_unique`` (integrations), an e-mail or phone already enrolled is
    ``AlreadyEnrolled``, checked under a lock on the contact in the same transaction."""
    if contact_unique:
        customer_contact_unique_check(email=enrol.get("email", ""), phone=enrol.get("phone", ""))
    customer = customer_create(**enrol)
    if referral_code.strip():
        referral_register(referee=customer, code=referral_code)
    return customer


@dataclass(frozen=True)
class ReferredEnrolment:
    customer: Customer
    referral: Referral | None
    refused: str  # why the code did not count ("" when it did, or when none was given)


@transaction.atomic
def membership_enrol_referred(*, user: User, referral_code: str, **enrol: Any) -> ReferredEnrolment:
    """Portal enrolment (``membership_enrol``) naming a referral code. The membership stands on
    its own: a code that cannot be used is refused with its reason, nothing of the referral is
    written, and the new member keeps their card."""
    customer = membership_enrol(user=user, **enrol)
    if not referral_code.strip():
        return ReferredEnrolment(customer, None, "")
    try:
        with transaction.atomic():
            referral = referral_register(referee=customer, code=referral_code)
    except NotEligible as exc:
        return ReferredEnrolment(customer, None, exc.message)
    return ReferredEnrolment(customer, referral, "")


def on_order_earned(event: Event) -> Referral | None:
    """``order.earned``, in the order's transaction: a referee's first purchase rewards both."""
    return referral_reward_on_first_purchase(customer_id=event.payload["customer_id"])


@transaction.atomic(savepoint=False)
def referral_reward_on_first_purchase(*, customer_id: int) -> Referral | None:
    """On the referee's first purchase both sides get their bonus, once. No savepoint of its
    own: it runs inside the order's transaction, and a failure fails the order."""
    referral = (
        Referral.objects.select_for_update()
        .filter(referee_id=customer_id, status=ReferralStatus.PENDING)
        .first()
    )
    if referral is None:
        return None
    referral_reward(referral=referral)
    referrer = Customer.objects.get(pk=referral.referrer_id)
    badges_evaluate(customer=referrer)  # the referrer may have reached a referrals badge
    return referral


def referral_bonuses(
    *, referral: Referral, programme, referee_name: str, at: dt.datetime
) -> tuple[Bonus, Bonus]:
    """The two bonuses of a rewarded referral: the referee's welcome, then the referrer's
    thanks. One place for their amounts, keys and wording, one by one or per chunk."""
    return (
        Bonus(
            customer_id=referral.referee_id,
            points=programme.referee_bonus,
            key=f"bonus:referral:{referral.pk}:referee",
            reason=_("Welcome bonus for joining through a friend"),
            source_ref=f"referral:{referral.pk}",
            detail={"bonus": BonusKind.REFERRED, "referral": referral.pk},
            at=at,
        ),
        Bonus(
            customer_id=referral.referrer_id,
            points=programme.referrer_bonus,
            key=f"bonus:referral:{referral.pk}:referrer",
            reason=_("Thank you for referring %(name)s") % {"name": referee_name},
            source_ref=f"referral:{referral.pk}",
            detail={"bonus": BonusKind.REFERRAL, "referral": referral.pk},
            at=at,
        ),
    )


def referral_reward(*, referral: Referral, at: dt.datetime | None = None) -> Referral:
    """Both sides' bonuses for a pending referral, and the referral marked rewarded; dated
    ``at`` (default now; back-filled history passes the first purchase's time). The caller
    holds the referral's row lock; the bonus keys keep it once."""
    now = at or timezone.now()
    programme = Programme.get()
    referee = Customer.objects.get(pk=referral.referee_id)
    referrer = Customer.objects.get(pk=referral.referrer_id)
    for bonus, customer in zip(
        referral_bonuses(
            referral=referral,
            programme=programme,
            referee_name=referee.first_name or referee.member_number,
            at=now,
        ),
        (referee, referrer),
        strict=True,
    ):
        bonus_give(bonus, customer=customer)
    referral.status = ReferralStatus.REWARDED
    referral.rewarded_at = now
    referral.save(update_fields=["status", "rewarded_at", "updated_at"])
    return referral


def on_orders_earned_many(*, customer_ids: list[int], bonuses: BonusBatch) -> int:
    """The ``order.earned`` hooks for many members at once (a bulk-earning chunk), in the
    given order, with the same rewards, badges and ledger rows in the same order as publishing
    ``order.earned`` member by member: a referee's first purchase rewards both sides
    (``referral_reward_on_first_purchase``: the referee's bonus, the referrer's, then the
    referrer's badges), then the member's own badges (``badges.on_order_earned``). The pending
    referrals are locked with one query and the referrers' accounts with one, the badge facts
    are read once (``BadgeFacts``), and the bonuses go to ``bonuses`` (the caller flushes it).
    The caller holds the members' account locks. Returns the number of referrals rewarded."""
    now = timezone.now()
    referrals = {
        r.referee_id: r
        for r in Referral.objects.select_for_update()
        .filter(in_ids("referee_id", customer_ids), status=ReferralStatus.PENDING)
        .order_by("pk")
    }
    names: dict[int, str] = {}
    if referrals:
        bonuses.lock(r.referrer_id for r in referrals.values())
        names = {
            pk: first_name or number
            for pk, first_name, number in Customer.objects.filter(
                in_ids("id", list(referrals))
            ).values_list("pk", "first_name", "member_number")
        }
    facts = BadgeFacts(customer_ids=[*customer_ids, *(r.referrer_id for r in referrals.values())])
    programme = bonuses.programme
    for customer_id in customer_ids:
        if (referral := referrals.get(customer_id)) is not None:
            for bonus in referral_bonuses(
                referral=referral, programme=programme, referee_name=names[customer_id], at=now
            ):
                bonuses.add(bonus)
            facts.referral_rewarded(referral.referrer_id)
            facts.award(referral.referrer_id, bonuses=bonuses, at=now)
        facts.award(customer_id, bonuses=bonuses, at=now)
    if referrals:
        Referral.objects.filter(pk__in=[r.pk for r in referrals.values()]).update(
            status=ReferralStatus.REWARDED, rewarded_at=now, updated_at=now
        )
    facts.write()
    return len(referrals)

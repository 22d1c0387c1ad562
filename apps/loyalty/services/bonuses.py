"""Bonuses: points awarded outside an order (sign-up, events, birthdays, referrals, badges,
tier gifts, compensation), and the settling of points owed from a refund.

Exactly once (invariant 2): every ledger row has a unique idempotency key derived from what
caused it (``bonus:signup:<customer>``, ``event:<event>:<customer>:<reference>``, ...); the
account row lock serialises concurrent attempts and the unique key is the backstop.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.events import Event
from apps.core.exceptions import ValidationFailed
from apps.customers.models import Customer

from .. import ledger
from ..enums import BonusKind, EarnEvent, LotStatus, TxKind
from ..ledger_batch import LedgerBatch, Lot, accounts_lock
from ..locks import lock_account
from ..models import LoyaltyAccount, PointsTransaction, Programme
from ..rules import OrderFacts, compute_event_bonus
from ..selectors import earn_rules_active


def debt_settle(*, account: LoyaltyAccount, key: str, at: dt.datetime | None = None) -> int:
    """Points owed from an earlier clawback are taken from newly available points (the row is
    dated ``at``, default now: the time the points became available)."""
    if account.debt <= 0 or account.balance <= 0:
        return 0
    amount = min(account.debt, account.balance)
    tx = ledger.build(
        account=account,
        kind=TxKind.REFUND,
        key=key,
        points=-amount,
        reason=_("Settles points owed from a refund"),
        at=at,
    )
    tx.save()
    ledger.spend_lots(account=account, points=amount, tx=tx)
    account.debt -= amount
    account.save(update_fields=ledger.ACCOUNT_COUNTERS)
    return amount


@transaction.atomic
def bonus_award(
    *,
    customer: Customer,
    points: int,
    key: str,
    reason: str,
    at: dt.datetime | None = None,
    kind: str = TxKind.EARN,
    actor=None,
    source_ref: str = "",
    detail: dict | None = None,
    campaign_id: int | None = None,
) -> PointsTransaction | None:
    """Award available points once per ``key`` (sign-up, birthday, referral, badge, tier gift,
    compensation). ``detail`` says which bonus it is for the row's description (``{"bonus":
    BonusKind, ...}``). Returns None when already awarded."""
    if points <= 0:
        return None
    account = lock_account(customer_id=customer.pk)
    if ledger.tx_exists(key) is not None:
        return None
    programme = Programme.get()
    now = at or timezone.now()
    lot = ledger.lot_create(
        account=account, points=points, earned_at=now, available_at=now, programme=programme
    )
    tx = ledger.append(
        account=account,
        kind=kind,
        key=key,
        points=points,
        reason=reason,
        lot=lot,
        actor=actor if getattr(actor, "pk", None) else None,
        source_ref=source_ref,
        detail=detail,
        campaign_id=campaign_id,
        at=now,
    )
    debt_settle(account=account, key=f"{key}:settle", at=now)
    return tx


def signup_bonus_award(
    *, customer: Customer, at: dt.datetime | None = None
) -> PointsTransaction | None:
    """The programme's welcome bonus for a newly enrolled member, once (dated ``at``, default
    now; back-filled history passes the enrolment time)."""
    programme = Programme.get()
    return bonus_award(
        customer=customer,
        points=programme.signup_bonus,
        key=f"bonus:signup:{customer.pk}",
        reason=_("Welcome bonus"),
        at=at,
        source_ref="signup",
        detail={"bonus": BonusKind.WELCOME},
    )


def on_customer_enrolled(event: Event) -> None:
    """``customer.enrolled``, in the enrolment's transaction: the welcome bonus."""
    signup_bonus_award(customer=Customer.objects.get(pk=event.payload["customer_id"]))


# Ledger keys hold 120 characters: "event:" + event (≤ 32) + ":" + customer id + ":" + reference.
EVENT_REFERENCE_MAX_LENGTH = 64


@dataclass(frozen=True)
class EventBonusOutcome:
    transaction: PointsTransaction | None
    created: bool
    balance: int


@transaction.atomic
def event_bonus_record(*, customer: Customer, event: str, reference: str) -> EventBonusOutcome:
    """``event_bonus_award``, also saying whether this call awarded the points (``created``)
    or found them awarded before, and the member's balance after it (for the API)."""
    if event not in EarnEvent.values:
        raise ValidationFailed(_("Unknown event “%(event)s”.") % {"event": event}, field="event")
    reference = reference.strip()
    if not reference or len(reference) > EVENT_REFERENCE_MAX_LENGTH:
        raise ValidationFailed(
            _("Give the event's reference, at most %(n)s characters.")
            % {"n": EVENT_REFERENCE_MAX_LENGTH},
            field="reference",
        )
    account = lock_account(customer_id=customer.pk)
    # The ledger keeps a digest, not the caller's reference: the ledger is append-only and
    # erasure cannot remove what a reference might carry (an account name, a device id).
    digest = hashlib.sha256(reference.encode()).hexdigest()[:32]
    key = f"event:{event}:{customer.pk}:{digest}"
    if (done := ledger.tx_exists(key)) is not None:
        return EventBonusOutcome(done, False, account.balance)
    rules, rule_tiers = earn_rules_active()
    now = timezone.now()
    facts = OrderFacts(
        total=Decimal(0),
        placed_at=now,
        store_id=None,
        channel="",
        lines=(),
        tier_id=account.tier_id,
        tier_multiplier=Decimal(1),
        first_purchase=False,
        customer_id=customer.pk,
    )
    result = compute_event_bonus(event=event, facts=facts, rules=rules, rule_tiers=rule_tiers)
    if result.points <= 0:
        return EventBonusOutcome(None, False, account.balance)
    tx = bonus_award(
        customer=customer,
        points=result.points,
        key=key,
        reason=", ".join(f"{name} {pts}" for name, pts in result.parts),
        at=now,
        source_ref=f"{event}:{digest}"[:64],
        detail={"bonus": BonusKind.EVENT, "event": event, "rules": result.rule_ids},
    )
    account.refresh_from_db(fields=["balance"])
    return EventBonusOutcome(tx, True, account.balance)


def event_bonus_award(
    *, customer: Customer, event: str, reference: str
) -> PointsTransaction | None:
    """Award the bonus of every active event rule for ``event`` (window, tier limits, priority
    and stacking as in ``apps.loyalty.rules``), once per (customer, event, reference): the
    ledger key ``event:<event>:<customer>:<digest of the reference>`` is unique, so the same
    reference again returns the first transaction and awards nothing more. Returns None when no
    rule applies (nothing is written, so a rule switched on later still rewards that
    reference). Available at once; settles points owed first. Refuses an unknown event or a
    blank reference."""
    return event_bonus_record(customer=customer, event=event, reference=reference).transaction


# --- many members at once (bulk earning's chunk) -------------------------------------------


@dataclass(frozen=True)
class Bonus:
    """A bonus to award: ``bonus_award``'s arguments, for ``BonusBatch``."""

    customer_id: int
    points: int
    key: str
    reason: str
    at: dt.datetime
    source_ref: str = ""
    detail: dict | None = None


def bonus_give(bonus: Bonus, *, customer: Customer) -> PointsTransaction | None:
    """``bonus_award`` of one ``Bonus`` (the form a chunk batches), for ``customer``."""
    return bonus_award(
        customer=customer,
        points=bonus.points,
        key=bonus.key,
        reason=bonus.reason,
        at=bonus.at,
        source_ref=bonus.source_ref,
        detail=bonus.detail,
    )


class BonusBatch:
    """The bonuses of many members (a bulk-earning chunk's tier gifts, referral rewards and
    badges), awarded in the order they were added with the rows ``bonus_award`` writes one by
    one: once per key (one query for the keys already in the ledger), each a lot and an earn
    row on the member's chain, built in memory and written with the chunk's other rows
    (``rows``, a ``LedgerBatch``). A member who owes points goes through ``bonus_award`` itself,
    which settles the debt from the bonus. ``accounts``: the members' locked accounts, by
    customer id (``lock`` adds more)."""

    def __init__(
        self, *, accounts: dict[int, LoyaltyAccount], rows: LedgerBatch, programme: Programme
    ) -> None:
        self.accounts = accounts
        self.rows = rows
        self.programme = programme
        self._bonuses: list[Bonus] = []

    def lock(self, customer_ids) -> None:
        """Lock the accounts of more members (created when missing, as ``lock_account``)."""
        missing = set(customer_ids) - set(self.accounts)
        self.accounts.update(accounts_lock(customer_ids=missing))

    def add(self, bonus: Bonus) -> None:
        if bonus.points > 0:
            self._bonuses.append(bonus)

    def flush(self) -> int:
        """Award the bonuses added since the last flush and write every pending row. Returns the
        number of bonuses awarded."""
        bonuses, self._bonuses = self._bonuses, []
        done = set(
            PointsTransaction.objects.filter(
                idempotency_key__in=[b.key for b in bonuses]
            ).values_list("idempotency_key", flat=True)
            if bonuses
            else ()
        )
        awarded = 0
        now = timezone.now()
        expiry: dict[dt.datetime, dt.datetime | None] = {}  # bonuses of a chunk share a time
        for bonus in bonuses:
            if bonus.key in done:
                continue
            done.add(bonus.key)
            awarded += 1
            account = self.accounts[bonus.customer_id]
            if account.debt > 0:
                self._award_one(account, bonus)
                continue
            if bonus.at not in expiry:
                expiry[bonus.at] = ledger.expiry_for(earned_at=bonus.at, programme=self.programme)
            self.rows.append(
                account=account,
                kind=TxKind.EARN,
                key=bonus.key,
                points=bonus.points,
                reason=bonus.reason,
                detail=bonus.detail,
                at=bonus.at,
                source_ref=bonus.source_ref,
                lot=Lot(
                    points=bonus.points,
                    status=LotStatus.PENDING if bonus.at > now else LotStatus.AVAILABLE,
                    earned_at=bonus.at,
                    available_at=bonus.at,
                    expires_at=expiry[bonus.at],
                ),
            )
        self.rows.flush()
        return awarded

    def _award_one(self, account: LoyaltyAccount, bonus: Bonus) -> None:
        self.rows.flush()  # the account's earlier rows come first in its chain
        bonus_award(
            customer=Customer.objects.get(pk=bonus.customer_id),
            points=bonus.points,
            key=bonus.key,
            reason=bonus.reason,
            at=bonus.at,
            source_ref=bonus.source_ref,
            detail=bonus.detail,
        )
        account.refresh_from_db(fields=ledger.ACCOUNT_COUNTERS)

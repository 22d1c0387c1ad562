"""Badges: non-material recognition of milestones, with optional bonus points.

A badge's ``rule`` names a fact about the member, its ``threshold`` the value to reach:

- ``first_purchase``: at least one purchase (threshold ignored),
- ``orders_count``: N purchases (fully refunded orders do not count),
- ``spend_total``: spend net of refunds, in the programme currency,
- ``anniversary``: N full years of membership (awarded by the nightly job too),
- ``referrals``: N referred friends who bought (rewarded referrals).

Other apps add rules with ``badge_fact_register`` (e.g. surveys: "first review"); a badge whose
rule nobody provides is never awarded.

Invariant: a badge is awarded once per member — the member's account row is locked while
checking, the (customer, badge) pair is unique in the database, and the bonus key
``bonus:badge:<customer>:<badge>`` is unique in the ledger.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core.content import content_input, localized_fields
from apps.core.db import in_ids, is_postgres
from apps.core.events import Event
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record, model_snapshot
from apps.customers.enums import OrderStatus
from apps.customers.models import Customer, Order

from ..configuration import configuration
from ..enums import BonusKind, ReferralStatus
from ..locks import lock_account
from ..models import Badge, CustomerBadge, Referral
from .bonuses import Bonus, BonusBatch, bonus_give
from .configuration import audited_update, text_refuse, validate


class BadgeRule(models.TextChoices):
    FIRST_PURCHASE = "first_purchase", gettext_lazy("First purchase")
    ORDERS_COUNT = "orders_count", gettext_lazy("Number of purchases")
    SPEND_TOTAL = "spend_total", gettext_lazy("Total spend")
    ANNIVERSARY = "anniversary", gettext_lazy("Years of membership")
    REFERRALS = "referrals", gettext_lazy("Friends referred")


BadgeFact = Callable[[Customer, dt.date], Decimal]
BADGE_FACTS: dict[str, BadgeFact] = {}
# Rules whose milestone is fixed, whatever the badge's threshold says.
FIXED_THRESHOLDS = {BadgeRule.FIRST_PURCHASE: 1}


def badge_fact_register(rule: str) -> Callable[[BadgeFact], BadgeFact]:
    """Register the function computing a rule's fact: ``fact(customer, today) -> number``."""

    def decorator(fn: BadgeFact) -> BadgeFact:
        BADGE_FACTS[rule] = fn
        return fn

    return decorator


def _orders(customer: Customer):
    return Order.objects.filter(customer=customer).exclude(status=OrderStatus.REFUNDED)


@badge_fact_register(BadgeRule.ORDERS_COUNT)
def _orders_count(customer: Customer, today: dt.date) -> Decimal:
    return Decimal(_orders(customer).count())


@badge_fact_register(BadgeRule.FIRST_PURCHASE)
def _first_purchase(customer: Customer, today: dt.date) -> Decimal:
    return Decimal(1) if _orders(customer).exists() else Decimal(0)


@badge_fact_register(BadgeRule.SPEND_TOTAL)
def _spend_total(customer: Customer, today: dt.date) -> Decimal:
    agg = _orders(customer).aggregate(t=Sum("total"), r=Sum("refunded_amount"))
    return (agg["t"] or Decimal(0)) - (agg["r"] or Decimal(0))


def _years_between(start: dt.date, end: dt.date) -> int:
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return max(years, 0)


@badge_fact_register(BadgeRule.ANNIVERSARY)
def _membership_years(customer: Customer, today: dt.date) -> Decimal:
    return Decimal(_years_between(timezone.localtime(customer.joined_at).date(), today))


@badge_fact_register(BadgeRule.REFERRALS)
def _referrals(customer: Customer, today: dt.date) -> Decimal:
    return Decimal(
        Referral.objects.filter(referrer=customer, status=ReferralStatus.REWARDED).count()
    )


def _award(*, customer: Customer, badge: Badge) -> CustomerBadge | None:
    try:
        with transaction.atomic():
            held = CustomerBadge.objects.create(customer=customer, badge=badge)
    except IntegrityError:
        return None
    bonus_give(
        badge_bonus(customer_id=customer.pk, badge=badge, at=timezone.now()), customer=customer
    )
    return held


def _candidates(customer_id: int) -> list[Badge]:
    """Active badges the member does not hold yet (one query)."""
    return list(
        Badge.objects.filter(is_active=True)
        .exclude(holders__customer_id=customer_id)
        .order_by("pk")
    )


@transaction.atomic(savepoint=False)
def badges_evaluate(
    *, customer: Customer, today: dt.date | None = None, candidates: list[Badge] | None = None
) -> list[CustomerBadge]:
    """Award every active badge the member has reached and does not hold yet. Returns the new
    ones (empty when nothing changed). Reads first and locks the account only when there is
    something to award, so the after-order hook costs one query for most orders; the unique
    (customer, badge) key keeps an award single under concurrency."""
    today = today or timezone.localdate()
    if candidates is None:
        candidates = _candidates(customer.pk)
    facts: dict[str, Decimal] = {}
    reached = []
    for badge in candidates:
        fact = BADGE_FACTS.get(badge.rule)
        if fact is None:
            continue
        if badge.rule not in facts:
            facts[badge.rule] = fact(customer, today)
        if facts[badge.rule] >= FIXED_THRESHOLDS.get(badge.rule, badge.threshold):
            reached.append(badge)
    if not reached:
        return []
    lock_account(customer_id=customer.pk)
    return [new for badge in reached if (new := _award(customer=customer, badge=badge))]


def on_order_earned(event: Event) -> list[CustomerBadge]:
    """``order.earned``, in the order's transaction: badges the purchase reached. Costs one
    query for most orders (no candidate badge in reach), none when the configuration the order
    earned under has no active badge."""
    version = event.payload.get("configuration_version")
    if version is not None and not configuration(version=version).badges:
        return []
    customer_id = event.payload["customer_id"]
    if not (candidates := _candidates(customer_id)):
        return []
    customer = Customer.objects.get(pk=customer_id)
    return badges_evaluate(customer=customer, candidates=candidates)


# --- many members at once (bulk earning's chunk) -------------------------------------------

# The built-in facts read for many members with one query each (a rule whose fact another app
# registered is asked member by member).
_ORDER_FACTS = {
    BadgeRule.FIRST_PURCHASE: _first_purchase,
    BadgeRule.ORDERS_COUNT: _orders_count,
    BadgeRule.SPEND_TOTAL: _spend_total,
}


class BadgeFacts:
    """The badge facts of many members (a bulk-earning chunk): the active badges, who holds
    them, and each built-in fact read with one query over all the members; kept current in
    memory as the chunk awards badges and rewards referrals, so ``reached`` answers what
    ``badges_evaluate`` would find for that member at that point. The caller holds the
    members' account locks (every award path takes it before writing a badge)."""

    def __init__(self, *, customer_ids, today: dt.date | None = None) -> None:
        self.today = today or timezone.localdate()
        self.badges = list(Badge.objects.filter(is_active=True).order_by("pk"))
        self.customer_ids = sorted(set(customer_ids))
        self._values: dict[str, dict[int, Decimal]] = {}
        self._customers: dict[int, Customer] | None = None
        self.held: set[tuple[int, int]] = set()
        self._awarded: list[tuple[int, int, dt.datetime]] = []
        self._reasons: dict[int, str] = {}
        if not self.badges or not self.customer_ids:
            return
        ids = self.customer_ids
        self.held = set(
            CustomerBadge.objects.filter(
                in_ids("customer_id", ids), badge_id__in=[b.pk for b in self.badges]
            ).values_list("customer_id", "badge_id")
        )
        rules = {b.rule for b in self.badges}
        if any(BADGE_FACTS.get(r) is fn for r, fn in _ORDER_FACTS.items() if r in rules):
            counts, spend = {}, {}
            for c, n, total, refunded in (
                Order.objects.filter(in_ids("customer_id", ids))
                .exclude(status=OrderStatus.REFUNDED)
                .order_by()
                .values("customer_id")
                .annotate(n=Count("id"), t=Sum("total"), r=Sum("refunded_amount"))
                .values_list("customer_id", "n", "t", "r")
            ):
                counts[c] = Decimal(n)
                spend[c] = (total or Decimal(0)) - (refunded or Decimal(0))
            self._values[BadgeRule.ORDERS_COUNT] = counts
            self._values[BadgeRule.FIRST_PURCHASE] = {c: Decimal(1) for c in counts}
            self._values[BadgeRule.SPEND_TOTAL] = spend
        if BadgeRule.ANNIVERSARY in rules and BADGE_FACTS.get(BadgeRule.ANNIVERSARY) is (
            _membership_years
        ):
            self._values[BadgeRule.ANNIVERSARY] = {
                c: Decimal(_years_between(timezone.localtime(joined).date(), self.today))
                for c, joined in Customer.objects.filter(in_ids("id", ids)).values_list(
                    "pk", "joined_at"
                )
            }
        if BadgeRule.REFERRALS in rules and BADGE_FACTS.get(BadgeRule.REFERRALS) is _referrals:
            self._values[BadgeRule.REFERRALS] = {
                c: Decimal(n)
                for c, n in Referral.objects.filter(
                    in_ids("referrer_id", ids), status=ReferralStatus.REWARDED
                )
                .order_by()
                .values("referrer_id")
                .annotate(n=Count("id"))
                .values_list("referrer_id", "n")
            }

    def referral_rewarded(self, referrer_id: int) -> None:
        """One more rewarded referral for ``referrer_id`` (the ``referrals`` fact)."""
        if (counts := self._values.get(BadgeRule.REFERRALS)) is not None:
            counts[referrer_id] = counts.get(referrer_id, Decimal(0)) + 1

    def _fact(self, rule: str, customer_id: int) -> Decimal:
        if (known := self._values.get(rule)) is not None:
            return known.get(customer_id, Decimal(0))
        if self._customers is None:
            self._customers = Customer.objects.in_bulk(self.customer_ids)
        return BADGE_FACTS[rule](self._customers[customer_id], self.today)

    def reached(self, customer_id: int) -> list[Badge]:
        """The active badges the member has reached and does not hold yet, by pk; from now on
        they count as held."""
        facts: dict[str, Decimal] = {}
        reached = []
        for badge in self.badges:
            if (customer_id, badge.pk) in self.held or badge.rule not in BADGE_FACTS:
                continue
            if badge.rule not in facts:
                facts[badge.rule] = self._fact(badge.rule, customer_id)
            if facts[badge.rule] >= FIXED_THRESHOLDS.get(badge.rule, badge.threshold):
                reached.append(badge)
                self.held.add((customer_id, badge.pk))
        return reached

    def award(self, customer_id: int, *, bonuses: BonusBatch, at: dt.datetime) -> list[Badge]:
        """``badges_evaluate`` for one member: the badges reached now, their bonuses added to
        ``bonuses`` in order; their rows are written by ``write``."""
        reached = self.reached(customer_id)
        for badge in reached:
            self._awarded.append((customer_id, badge.pk, at))
            if badge.pk not in self._reasons:
                self._reasons[badge.pk] = badge_reason(badge)
            bonuses.add(
                badge_bonus(
                    customer_id=customer_id, badge=badge, at=at, reason=self._reasons[badge.pk]
                )
            )
        return reached

    def write(self) -> int:
        """Write the badges awarded since the last write (one insert; a pair already held is
        skipped, as ``_award`` skips it). Returns how many were awarded."""
        awarded, self._awarded = self._awarded, []
        if not awarded:
            return 0
        if not is_postgres():
            CustomerBadge.objects.bulk_create(
                [CustomerBadge(customer_id=c, badge_id=b, awarded_at=at) for c, b, at in awarded],
                ignore_conflicts=True,
            )
            return len(awarded)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO loyalty_customerbadge (customer_id, badge_id, awarded_at) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) "
                "ON CONFLICT (customer_id, badge_id) DO NOTHING",
                [list(column) for column in zip(*awarded, strict=True)],
            )
        return len(awarded)


def badge_bonus(
    *, customer_id: int, badge: Badge, at: dt.datetime, reason: str | None = None
) -> Bonus:
    """The bonus that comes with a badge (``_award``'s), for a ``BonusBatch``; ``reason``: the
    badge's ``badge_reason`` when the caller holds it."""
    return Bonus(
        customer_id=customer_id,
        points=badge.bonus_points,
        key=f"bonus:badge:{customer_id}:{badge.pk}",
        reason=badge_reason(badge) if reason is None else reason,
        at=at,
        source_ref=f"badge:{badge.slug}",
        detail={"bonus": BonusKind.BADGE, "badge": badge.pk},
    )


def badge_reason(badge: Badge) -> str:
    return _("Badge: %(name)s") % {"name": badge.name}


def _years_before(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def badges_anniversary_award(*, today: dt.date | None = None, chunk: int = 500) -> int:
    """Nightly: members who have reached an anniversary badge's years of membership get it.
    Candidates are found with one query per badge (holders excluded), then awarded in chunks,
    one transaction per chunk, accounts locked in pk order. Safe to run twice. Returns the
    number of badges awarded."""
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    awarded = 0
    for badge in Badge.objects.filter(is_active=True, rule=BadgeRule.ANNIVERSARY).order_by("pk"):
        cutoff = _years_before(today, badge.threshold) + dt.timedelta(days=1)
        joined_before = dt.datetime.combine(cutoff, dt.time.min, tzinfo=tz)
        ids = list(
            Customer.objects.filter(
                anonymized_at__isnull=True, merged_into__isnull=True, joined_at__lt=joined_before
            )
            .exclude(badges__badge=badge)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), chunk):
            with transaction.atomic():
                for customer in Customer.objects.filter(pk__in=ids[start : start + chunk]).order_by(
                    "pk"
                ):
                    lock_account(customer_id=customer.pk)
                    if _award(customer=customer, badge=badge) is not None:
                        awarded += 1
    return awarded


BADGE_FIELDS = localized_fields(
    Badge,
    ["slug", "name", "description", "rule", "threshold", "bonus_points", "icon", "is_active"],
)


def _check_badge(badge: Badge) -> None:
    if badge.rule not in BADGE_FACTS:
        raise ValidationFailed(_("Unknown badge rule."), field="rule")
    validate(badge)


@transaction.atomic
def badge_create(*, actor: User, **data: Any) -> Badge:
    """A new badge, validated and audited as ``badge.create``."""
    data = content_input(Badge, data)
    badge = Badge(**{k: v for k, v in data.items() if k in BADGE_FIELDS})
    text_refuse(badge)
    _check_badge(badge)
    badge.save()
    audit_record(
        actor=actor,
        action="badge.create",
        target=badge,
        summary=badge.name[:300],
        after=model_snapshot(badge, BADGE_FIELDS),
    )
    return badge


@transaction.atomic
def badge_update(*, badge: Badge, actor: User, **data: Any) -> Badge:
    """Change a badge (locked, validated), audited as ``badge.update`` with what changed.
    Members who hold it keep it."""
    badge = Badge.objects.select_for_update().get(pk=badge.pk)
    return audited_update(
        instance=badge,
        fields=BADGE_FIELDS,
        data=data,
        actor=actor,
        action="badge.update",
        check=_check_badge,
    )

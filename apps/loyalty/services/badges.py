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

from django.db import IntegrityError, models, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core.content import content_input, localized_fields
from apps.core.events import Event
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record, model_snapshot
from apps.customers.enums import OrderStatus
from apps.customers.models import Customer, Order

from ..enums import BonusKind, ReferralStatus
from ..locks import lock_account
from ..models import Badge, CustomerBadge, Referral
from .bonuses import bonus_award
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
    bonus_award(
        customer=customer,
        points=badge.bonus_points,
        key=f"bonus:badge:{customer.pk}:{badge.pk}",
        reason=_("Badge: %(name)s") % {"name": badge.name},
        source_ref=f"badge:{badge.slug}",
        detail={"bonus": BonusKind.BADGE, "badge": badge.pk},
    )
    return held


def _candidates(customer_id: int) -> list[Badge]:
    """Active badges the member does not hold yet (one query)."""
    return list(
        Badge.objects.filter(is_active=True)
        .exclude(holders__customer_id=customer_id)
        .order_by("pk")
    )


@transaction.atomic
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
    query for most orders (no candidate badge in reach)."""
    customer_id = event.payload["customer_id"]
    if not (candidates := _candidates(customer_id)):
        return []
    customer = Customer.objects.get(pk=customer_id)
    return badges_evaluate(customer=customer, candidates=candidates)


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

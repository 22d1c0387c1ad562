"""The earn-rule engine: pure functions from an order's (or an event's) facts to points, with a
breakdown. No queries: callers pass the active rules and their tier limits.

Base
    ``points_per_currency_unit`` × amount paid. With lines, the order discount is spread over the
    lines in proportion, so line multipliers apply to what was really paid.

Families
    *Multipliers* (category, SKU, store, channel, promotion) scale the points of the spend they
    match, line by line. *Bonuses* add a fixed number of points: first purchase and spend
    threshold to an order, event bonuses to an event (``compute_event_bonus``; they never apply
    to orders, and order rules never apply to events). The tier's earn multiplier applies on top
    of the rule multipliers; bonuses are not multiplied.

Which rule matches (a missing target never means "everything")
    category: a line of that category (case-insensitive); SKU: a line with that SKU; store:
    orders at that store; channel: orders through that channel; promotion: orders placed inside
    its window, which must have both a start and an end; first purchase: the customer's first
    order; spend threshold: orders of at least ``min_spend`` (> 0); event: that event code.
    A rule without its target (no store, no channel, blank category, …) matches nothing, and a
    bonus rule without points is ignored. ``services.configuration`` refuses such rules; the
    engine ignores them anyway, in case an old row or a direct write slips through.

Limits (for every kind)
    ``is_active``; the active window [starts_at, ends_at) compared with the order time (now, for
    an event); tiers (empty = all tiers); a store or a channel set on a rule of another kind
    narrows it to that store or channel; and every registered condition (below).

Priority and stacking (per family: multipliers per line, bonuses per order or event)
    1. The rules of the family that match are taken by priority, higher first; equal priorities
       go by id (the older rule first).
    2. A stackable rule applies and the walk goes on. Stackable multipliers multiply
       (×2 and ×1.5 make ×3); stackable bonuses add (50 + 30 make 80).
    3. A non-stackable rule ends the walk: no lower-priority rule of its family applies. It
       applies itself only when no higher-priority rule of the family applied; otherwise it
       stays out, because it does not combine with anything. So a non-stackable rule at the top
       applies alone, and one below stackable rules cuts the chain where it stands.
    A non-stackable multiplier never stops a bonus, nor the other way round, and a rule stops
    others only where it matches (a SKU rule only on its lines; a tier-limited rule only for
    members of its tiers).

Why a rule did not apply (``rule_explain``): the same tests as above, asked one by one, each
failed test a ``Miss`` (a stable ``code`` and the values that explain it, no text: the delivery
layer words it in the reader's language). No misses means the rule applied; a rule that matched
but lost to priority or stacking says which rule stopped it.

Extension point: ``CONDITIONS`` maps a condition name to a predicate ``(rule, facts) -> bool``.
Every predicate is asked about every rule, so it must answer True for rules it does not limit.
For an event, ``facts`` carries the member (``customer_id``, ``tier_id``) and the time, with no
store, channel or lines. A predicate never reads ``first_purchase``: an order's earning computes
it (one query) only while a first-purchase rule is active.

Segments (the planned segment limit): ``analytics`` sits above ``loyalty`` in the layers, so
nothing here may import it. The segments work will
  - add ``segment = models.ForeignKey("analytics.Segment", null=True, blank=True,
    on_delete=models.PROTECT, related_name="+")`` to ``EarnRule`` (a string reference; the
    loyalty migration depends on the analytics migration that creates ``Segment``), and
    ``"segment"`` to ``EARN_RULE_FIELDS`` so the dashboard form offers it;
  - register ``CONDITIONS["segment"]`` from ``analytics``' ``AppConfig.ready``: True when
    ``rule.segment_id`` is None, else whether ``facts.customer_id`` is in the segment (compiled
    once per call, not once per rule);
  - leave this module unchanged: ``_applies`` already refuses a rule with a ``segment_id`` when
    no ``"segment"`` condition is registered, so a segment-limited rule never falls back to
    "all customers".
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from .enums import MULTIPLIER_KINDS, ORDER_BONUS_KINDS, EarnRuleKind

CONDITIONS: dict[str, Callable[[object, "OrderFacts"], bool]] = {}


@dataclass(frozen=True)
class LineFacts:
    sku: str
    category: str
    amount: Decimal


@dataclass(frozen=True)
class OrderFacts:
    total: Decimal
    placed_at: dt.datetime
    store_id: int | None
    channel: str
    lines: tuple[LineFacts, ...]
    tier_id: int | None
    tier_multiplier: Decimal
    first_purchase: bool
    customer_id: int | None = None


@dataclass
class EarnResult:
    points: int
    parts: list[tuple[str, int]] = field(default_factory=list)
    # The saved rules that applied (multipliers on any line, then bonuses), each once, in the
    # order they applied: a ledger row records them so its description can name them.
    rule_ids: list[int] = field(default_factory=list)

    def record_rule(self, rule) -> None:
        if rule.pk is not None and rule.pk not in self.rule_ids:
            self.rule_ids.append(rule.pk)


def _applies(rule, facts: OrderFacts, tier_ids: set[int]) -> bool:
    """The limits every kind shares: active, window, tiers, store and channel, conditions."""
    if not rule.is_active:
        return False
    if rule.starts_at and facts.placed_at < rule.starts_at:
        return False
    if rule.ends_at and facts.placed_at >= rule.ends_at:
        return False
    if tier_ids and facts.tier_id not in tier_ids:
        return False
    if rule.store_id and rule.store_id != facts.store_id:
        return False
    if rule.channel and rule.channel != facts.channel:
        return False
    if getattr(rule, "segment_id", None) and "segment" not in CONDITIONS:
        return False
    if getattr(rule, "campaign_id", None) and "campaign" not in CONDITIONS:
        return False
    return all(check(rule, facts) for check in CONDITIONS.values())


def _matches_line(rule, facts: OrderFacts, line: LineFacts) -> bool:
    """Whether a multiplier rule's own target covers this line; a missing target never does."""
    kind = rule.kind
    if kind == EarnRuleKind.CATEGORY:
        return bool(rule.category.strip()) and (
            rule.category.strip().lower() == line.category.strip().lower()
        )
    if kind == EarnRuleKind.SKU:
        return bool(rule.sku) and rule.sku == line.sku
    if kind == EarnRuleKind.STORE:
        return rule.store_id is not None and rule.store_id == facts.store_id
    if kind == EarnRuleKind.CHANNEL:
        return bool(rule.channel) and rule.channel == facts.channel
    if kind == EarnRuleKind.PROMOTION:
        # The window is the promotion's target (``_applies`` checks the order is inside it).
        # A campaign's multiplier is bounded per member by ``CONDITIONS["campaign"]`` instead.
        return rule.starts_at is not None and (
            rule.ends_at is not None or getattr(rule, "campaign_id", None) is not None
        )
    return False


def _matches_order(rule, facts: OrderFacts) -> bool:
    """Whether an order bonus rule's condition holds for this order."""
    if rule.bonus_points <= 0:
        return False
    if rule.kind == EarnRuleKind.FIRST_PURCHASE:
        return facts.first_purchase
    if rule.kind == EarnRuleKind.MIN_SPEND:
        return rule.min_spend > 0 and facts.total >= rule.min_spend
    return False


@dataclass(frozen=True)
class Miss:
    """One reason a rule did not apply: ``code`` and its ``params`` (see ``rule_explain``)."""

    code: str
    params: dict = field(default_factory=dict)


def _limit_misses(rule, facts: OrderFacts, tier_ids: set[int]) -> list[Miss]:
    """``_applies``, test by test."""
    misses = []
    if not rule.is_active:
        misses.append(Miss("inactive"))
    if rule.starts_at and facts.placed_at < rule.starts_at:
        misses.append(Miss("not_started", {"starts_at": rule.starts_at}))
    if rule.ends_at and facts.placed_at >= rule.ends_at:
        misses.append(Miss("ended", {"ends_at": rule.ends_at}))
    if tier_ids and facts.tier_id not in tier_ids:
        misses.append(Miss("tier", {"tier_ids": sorted(tier_ids)}))
    if rule.store_id and rule.store_id != facts.store_id:
        misses.append(Miss("store", {"store_id": rule.store_id}))
    if rule.channel and rule.channel != facts.channel:
        misses.append(Miss("channel", {"channel": rule.channel}))
    if getattr(rule, "segment_id", None) and "segment" not in CONDITIONS:
        misses.append(Miss("segment"))
    for name, check in CONDITIONS.items():
        if not check(rule, facts):
            misses.append(Miss("condition", {"name": name}))
    return misses


def _target_misses(rule, facts: OrderFacts) -> list[Miss]:
    """``_matches_line`` / ``_matches_order``, in words: what the rule's own target needs."""
    kind = rule.kind
    if kind == EarnRuleKind.CATEGORY:
        if not rule.category.strip():
            return [Miss("no_target")]
        if not any(_matches_line(rule, facts, line) for line in facts.lines):
            return [Miss("category", {"category": rule.category.strip()})]
    elif kind == EarnRuleKind.SKU:
        if not rule.sku:
            return [Miss("no_target")]
        if not any(_matches_line(rule, facts, line) for line in facts.lines):
            return [Miss("sku", {"sku": rule.sku})]
    elif kind in (EarnRuleKind.STORE, EarnRuleKind.CHANNEL):
        # A missing target; a different store or channel is already a limit miss.
        if not (rule.store_id if kind == EarnRuleKind.STORE else rule.channel):
            return [Miss("no_target")]
    elif kind == EarnRuleKind.PROMOTION:
        if rule.starts_at is None or rule.ends_at is None:
            return [Miss("promotion_window")]
    elif kind == EarnRuleKind.EVENT:
        return [Miss("event_only", {"event": rule.event})]
    elif kind in ORDER_BONUS_KINDS:
        if rule.bonus_points <= 0:
            return [Miss("no_bonus")]
        if kind == EarnRuleKind.FIRST_PURCHASE and not facts.first_purchase:
            return [Miss("not_first_purchase")]
        if kind == EarnRuleKind.MIN_SPEND:
            if rule.min_spend <= 0:
                return [Miss("no_target")]
            if facts.total < rule.min_spend:
                return [
                    Miss(
                        "min_spend",
                        {"min_spend": rule.min_spend, "missing": rule.min_spend - facts.total},
                    )
                ]
    return []


def _stopped_by(rule, matching: list) -> Miss | None:
    """Why ``rule``, which matches, is not among ``apply_by_priority(matching)``; None when it
    is (the same walk, told)."""
    applied = []
    for other in sorted(matching, key=_by_priority):
        if other is rule:
            if not rule.stackable and applied:
                return Miss("not_alone", {"rules": [r.name for r in applied]})
            return None
        if not other.stackable:
            return Miss("outranked", {"rule": other.name})
        applied.append(other)
    return None


def rule_explain(
    rule, *, facts: OrderFacts, rules: Iterable, rule_tiers: dict[int, set[int]]
) -> list[Miss]:
    """Why ``rule`` (one of ``rules``, the same object) adds nothing to the order ``facts``:
    every limit or target it fails, else the rule that stopped it by priority or stacking.
    ``[]`` when it applies (to at least one line, for a multiplier)."""
    misses = _limit_misses(rule, facts, rule_tiers.get(rule.pk, set()))
    misses += _target_misses(rule, facts)
    if misses:
        return misses
    live = [r for r in rules if _applies(r, facts, rule_tiers.get(r.pk, set()))]
    if rule.kind in MULTIPLIER_KINDS:
        family = [r for r in live if r.kind in MULTIPLIER_KINDS]
        stops = []
        for line in facts.lines:
            if not _matches_line(rule, facts, line):
                continue
            stop = _stopped_by(rule, [r for r in family if _matches_line(r, facts, line)])
            if stop is None:
                return []
            stops.append(stop)
        return stops[:1]
    family = [r for r in live if r.kind in ORDER_BONUS_KINDS and _matches_order(r, facts)]
    stop = _stopped_by(rule, family)
    return [stop] if stop is not None else []


def _by_priority(rule) -> tuple[int, int]:
    return (-rule.priority, rule.pk or 0)


def apply_by_priority(matching: Iterable) -> list:
    """The rules of one family that apply, out of those that match (see the module docstring):
    by priority; a non-stackable rule ends the walk and applies only if it comes first."""
    applied = []
    for rule in sorted(matching, key=_by_priority):
        if not rule.stackable:
            if not applied:
                applied.append(rule)
            break
        applied.append(rule)
    return applied


def spread_discount(
    lines: Iterable[tuple[str, str, Decimal]], total: Decimal
) -> tuple[LineFacts, ...]:
    """Line amounts scaled so they add up to what was paid (``total``)."""
    lines = list(lines)
    gross = sum((amount for _, _, amount in lines), Decimal(0))
    if not lines or gross <= 0:
        return (LineFacts(sku="", category="", amount=total),)
    scale = total / gross
    return tuple(LineFacts(sku=s, category=c, amount=a * scale) for s, c, a in lines)


def compute_earn(
    *, facts: OrderFacts, rate: Decimal, rules: Iterable, rule_tiers: dict[int, set[int]]
) -> EarnResult:
    """Points of an order: base, rule multipliers per line, tier multiplier, then bonuses."""
    rules = [r for r in rules if _applies(r, facts, rule_tiers.get(r.pk, set()))]
    multipliers = [r for r in rules if r.kind in MULTIPLIER_KINDS]
    bonuses = [r for r in rules if r.kind in ORDER_BONUS_KINDS]
    base = Decimal(0)
    boosted = Decimal(0)
    result = EarnResult(points=0)
    for line in facts.lines:
        line_base = line.amount * rate
        factor = Decimal(1)
        for rule in apply_by_priority(r for r in multipliers if _matches_line(r, facts, line)):
            factor *= rule.multiplier
            result.record_rule(rule)
        base += line_base
        boosted += line_base * factor
    tiered = boosted * facts.tier_multiplier
    base_points = int(base.to_integral_value(ROUND_FLOOR))
    total_points = int(tiered.to_integral_value(ROUND_FLOOR))
    result.parts.append(("base", base_points))
    rule_extra = int(boosted.to_integral_value(ROUND_FLOOR)) - base_points
    if rule_extra:
        result.parts.append(("rules", rule_extra))
    tier_extra = total_points - base_points - rule_extra
    if tier_extra:
        result.parts.append(("tier", tier_extra))
    for rule in apply_by_priority(r for r in bonuses if _matches_order(r, facts)):
        total_points += rule.bonus_points
        result.parts.append((rule.name, rule.bonus_points))
        result.record_rule(rule)
    result.points = max(total_points, 0)
    return result


def compute_event_bonus(
    *, event: str, facts: OrderFacts, rules: Iterable, rule_tiers: dict[int, set[int]]
) -> EarnResult:
    """Points of an event: the bonuses of the active event rules for ``event``, by priority and
    stacking like order bonuses. ``facts`` describe the member and the time (no order)."""
    matching = [
        r
        for r in rules
        if r.kind == EarnRuleKind.EVENT
        and r.event
        and r.event == event
        and r.bonus_points > 0
        and _applies(r, facts, rule_tiers.get(r.pk, set()))
    ]
    result = EarnResult(points=0)
    for rule in apply_by_priority(matching):
        result.points += rule.bonus_points
        result.parts.append((rule.name, rule.bonus_points))
        result.record_rule(rule)
    return result

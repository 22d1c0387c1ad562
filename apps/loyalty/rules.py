"""The earn-rule engine: a pure function from an order's facts to points, with a breakdown.

- Base: ``points_per_currency_unit`` × amount paid. With lines, the order discount is spread
  over the lines in proportion, so line multipliers apply to what was really paid.
- Multipliers: for each line, the matching rules (category, SKU, store, channel, promotion
  window) are applied in priority order; stackable rules multiply together; a non-stackable rule
  applies and stops the lower-priority ones for that spend.
- The tier's earn multiplier applies on top. Bonuses (first purchase, spend threshold) add points.
- Rules can be limited to tiers, a store or a channel, and to an active window.

Extension point: ``CONDITIONS`` maps a condition name to a predicate ``(rule, facts) -> bool``;
the segments feature registers ``"segment"`` there to limit rules to a customer segment.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from .enums import EarnRuleKind

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


def _active(rule, facts: OrderFacts, tier_ids: set[int]) -> bool:
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
    return all(check(rule, facts) for check in CONDITIONS.values())


def _matches_line(rule, line: LineFacts) -> bool:
    if rule.kind == EarnRuleKind.CATEGORY:
        return bool(rule.category) and rule.category.lower() == line.category.lower()
    if rule.kind == EarnRuleKind.SKU:
        return bool(rule.sku) and rule.sku == line.sku
    return rule.kind in (EarnRuleKind.STORE, EarnRuleKind.CHANNEL, EarnRuleKind.PROMOTION)


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
    rules = [r for r in rules if _active(r, facts, rule_tiers.get(r.pk, set()))]
    multiplier_rules = sorted(
        (r for r in rules if r.kind not in (EarnRuleKind.FIRST_PURCHASE, EarnRuleKind.MIN_SPEND)),
        key=lambda r: (-r.priority, r.pk),
    )
    base = Decimal(0)
    boosted = Decimal(0)
    for line in facts.lines:
        line_base = line.amount * rate
        factor = Decimal(1)
        for rule in multiplier_rules:
            if _matches_line(rule, line):
                factor *= rule.multiplier
                if not rule.stackable:
                    break
        base += line_base
        boosted += line_base * factor
    tiered = boosted * facts.tier_multiplier
    result = EarnResult(points=0)
    base_points = int(base.to_integral_value(ROUND_FLOOR))
    total_points = int(tiered.to_integral_value(ROUND_FLOOR))
    result.parts.append(("base", base_points))
    rule_extra = int(boosted.to_integral_value(ROUND_FLOOR)) - base_points
    if rule_extra:
        result.parts.append(("rules", rule_extra))
    tier_extra = total_points - base_points - rule_extra
    if tier_extra:
        result.parts.append(("tier", tier_extra))
    for rule in rules:
        if (
            (rule.kind == EarnRuleKind.FIRST_PURCHASE and facts.first_purchase)
            or (
                rule.kind == EarnRuleKind.MIN_SPEND
                and facts.total >= rule.min_spend
                and rule.bonus_points
            )
            or (
                rule.bonus_points
                and rule.kind not in (EarnRuleKind.FIRST_PURCHASE, EarnRuleKind.MIN_SPEND)
                and any(_matches_line(rule, line) for line in facts.lines)
            )
        ):
            total_points += rule.bonus_points
            result.parts.append((rule.name, rule.bonus_points))
    result.points = max(total_points, 0)
    return result

"""Staff writes to the programme's configuration: settings, earn rules, tiers, rewards and stock.

Each is one transaction with an audit row holding the changed fields before and after
(invariant 8: the point value and bonuses are money). Forms validate the shape; these functions
take the cleaned values. Stock changes only by restock here (F() under the reward's row lock), so
a restock racing a redemption never loses an update.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.content import content_input, content_problems, localized_fields
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record, changed_fields, model_snapshot
from apps.core.text import instance_text_problems

from ..enums import BONUS_KINDS, MULTIPLIER_KINDS, VOUCHER_KINDS, EarnRuleKind, ExpiryPolicy
from ..locks import lock_reward
from ..models import EarnRule, Programme, Reward, Tier

PROGRAMME_FIELDS = localized_fields(
    Programme,
    [
        "name",
        "points_per_currency_unit",
        "point_value",
        "expiry_policy",
        "expiry_months",
        "expiry_years",
        "pending_days",
        "signup_bonus",
        "birthday_bonus",
        "referrer_bonus",
        "referee_bonus",
        "reminder_days",
        "tier_grace_days",
        "adjustment_limit",
        "survey_cooldown_days",
    ],
)
EARN_RULE_FIELDS = localized_fields(
    EarnRule,
    [
        "name",
        "kind",
        "multiplier",
        "bonus_points",
        "category",
        "sku",
        "store",
        "channel",
        "segment",
        "event",
        "min_spend",
        "priority",
        "stackable",
        "starts_at",
        "ends_at",
        "is_active",
    ],
)
TIER_FIELDS = localized_fields(
    Tier,
    [
        "name",
        "metric",
        "threshold",
        "retention_threshold",
        "window_months",
        "earn_multiplier",
        "benefits",
        "entry_gift_points",
        "color",
    ],
)
REWARD_FIELDS = localized_fields(
    Reward,
    [
        "name",
        "slug",
        "kind",
        "description",
        "cost_points",
        "per_member_limit",
        "min_tier",
        "starts_at",
        "ends_at",
        "is_active",
        "image",
        "coupon_kind",
        "coupon_value",
        "coupon_valid_days",
        "coupon_min_spend",
    ],
)


# Which fields each kind uses (the others keep their neutral default): forms show only these,
# and ``earn_rule_problems`` / ``reward_problems`` refuse a value in a field the kind ignores.
_ALL_RULE_KINDS = frozenset(EarnRuleKind.values)
EARN_RULE_KIND_FIELDS = {
    "multiplier": MULTIPLIER_KINDS,
    "bonus_points": BONUS_KINDS,
    "category": frozenset({EarnRuleKind.CATEGORY}),
    "sku": frozenset({EarnRuleKind.SKU}),
    "store": _ALL_RULE_KINDS - {EarnRuleKind.EVENT},
    "channel": _ALL_RULE_KINDS - {EarnRuleKind.EVENT},
    "event": frozenset({EarnRuleKind.EVENT}),
    "min_spend": frozenset({EarnRuleKind.MIN_SPEND}),
}
REWARD_KIND_FIELDS = {
    name: frozenset(VOUCHER_KINDS)
    for name in ("coupon_kind", "coupon_value", "coupon_valid_days", "coupon_min_spend")
}
PROGRAMME_POLICY_FIELDS = {
    "expiry_months": frozenset({ExpiryPolicy.ROLLING}),
    "expiry_years": frozenset({ExpiryPolicy.END_OF_YEAR}),
    "reminder_days": frozenset({ExpiryPolicy.ROLLING, ExpiryPolicy.END_OF_YEAR}),
}


def text_refuse(instance, names=None) -> None:
    """The text rule (``apps.core.text``) on the instance's text columns (all, or ``names``):
    names, descriptions and benefits hold no control characters."""
    if problems := instance_text_problems(instance, names=names):
        field, message = problems[0]
        raise ValidationFailed(message, field=field)


def validate(instance) -> None:
    """The content rule (a name in at least one language), then the model's own checks."""
    if problems := content_problems(instance):
        field, message = problems[0]
        raise ValidationFailed(message, field=field)
    try:
        instance.full_clean()
    except DjangoValidationError as exc:
        fields = [f for f in getattr(exc, "error_dict", {}) if f != "__all__"]
        raise ValidationFailed(
            " ".join(exc.messages), **({"field": fields[0]} if fields else {})
        ) from exc


def audited_update(
    *, instance, fields: list[str], data: dict[str, Any], actor: User, action: str, check=None
):
    """Set ``fields`` from ``data`` on a locked ``instance``, validate (``check``, else
    ``full_clean``), save, and audit the fields that changed as ``action``."""
    data = content_input(type(instance), data)
    before = model_snapshot(instance, fields)
    for name in fields:
        if name in data:
            setattr(instance, name, data[name])
    text_refuse(instance, names=[name for name in fields if name in data])
    (check or validate)(instance)
    instance.save()
    instance.refresh_from_db(fields=fields)  # as stored: a time in another zone is no change
    changed_before, changed_after = changed_fields(before, model_snapshot(instance, fields))
    if changed_after:
        audit_record(
            actor=actor,
            action=action,
            target=instance,
            summary=str(instance)[:300],
            before=changed_before,
            after=changed_after,
        )
    return instance


@transaction.atomic
def programme_update(*, actor: User, **data: Any) -> Programme:
    programme = Programme.objects.select_for_update().get(pk=Programme.get().pk)
    return audited_update(
        instance=programme,
        fields=PROGRAMME_FIELDS,
        data=data,
        actor=actor,
        action="programme.update",
    )


def earn_rule_problems(rule: EarnRule) -> list[tuple[str, str]]:
    """What the rule's kind needs and does not have, as (field, message) pairs, in form order.

    Multipliers (category, SKU, store, channel, promotion) need their target and add no bonus
    points; bonuses (first purchase, spend threshold, event) need their points and multiply
    nothing. Category, SKU, minimum spend and event belong to their own kind only; a store or a
    channel on another multiplier or bonus narrows it, but an event happens outside any store or
    channel. The rule engine never reads a missing target as "everything"
    (``apps.loyalty.rules``); this refuses such rules before they are saved."""
    kind = rule.kind
    problems: list[tuple[str, str]] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            problems.append((name, message))

    if kind in MULTIPLIER_KINDS:
        need(
            not rule.bonus_points,
            "bonus_points",
            _(
                "A multiplier adds no bonus points: use a first-purchase, spend-threshold or "
                "event rule for a bonus."
            ),
        )
    if kind in BONUS_KINDS:
        need(
            rule.multiplier is None or rule.multiplier == 1,
            "multiplier",
            _("A bonus rule adds points and multiplies nothing: leave the multiplier at 1."),
        )
        need((rule.bonus_points or 0) > 0, "bonus_points", _("Enter the bonus points it awards."))
    category = (rule.category or "").strip()
    if kind == EarnRuleKind.CATEGORY:
        need(bool(category), "category", _("A category multiplier needs its category."))
    else:
        need(not category, "category", _("Only a category multiplier uses a category."))
    if kind == EarnRuleKind.SKU:
        need(bool(rule.sku), "sku", _("A product multiplier needs its SKU."))
    else:
        need(not rule.sku, "sku", _("Only a product multiplier uses a SKU."))
    if kind == EarnRuleKind.STORE:
        need(rule.store_id is not None, "store", _("A store multiplier needs its store."))
    if kind == EarnRuleKind.CHANNEL:
        need(bool(rule.channel), "channel", _("A channel multiplier needs its channel."))
    if kind == EarnRuleKind.PROMOTION:
        need(
            rule.starts_at is not None,
            "starts_at",
            _("A promotion needs the start of its window."),
        )
        need(rule.ends_at is not None, "ends_at", _("A promotion needs the end of its window."))
    if kind == EarnRuleKind.MIN_SPEND:
        need(
            (rule.min_spend or 0) > 0,
            "min_spend",
            _("A spend-threshold bonus needs the minimum spend."),
        )
    else:
        need(
            not rule.min_spend,
            "min_spend",
            _("Only a spend-threshold bonus uses a minimum spend."),
        )
    if kind == EarnRuleKind.EVENT:
        need(bool(rule.event), "event", _("An event bonus needs its event."))
        need(
            rule.store_id is None,
            "store",
            _("An event happens outside any store: an event bonus cannot be limited to one."),
        )
        need(
            not rule.channel,
            "channel",
            _("An event happens outside any channel: an event bonus cannot be limited to one."),
        )
    else:
        need(not rule.event, "event", _("Only an event bonus uses an event."))
    return sorted(problems, key=lambda p: EARN_RULE_FIELDS.index(p[0]))


def _check_earn_rule(rule: EarnRule) -> None:
    _check_window(rule.starts_at, rule.ends_at)
    if problems := earn_rule_problems(rule):
        name, message = problems[0]
        raise ValidationFailed(message, field=name)
    validate(rule)


@transaction.atomic
def earn_rule_create(*, actor: User, tiers: list[Tier] | None = None, **data: Any) -> EarnRule:
    """A new earn rule, refused with a field-specific ``ValidationFailed`` when its kind lacks
    what it needs (``earn_rule_problems``); audited."""
    data = content_input(EarnRule, data)
    rule = EarnRule(**{k: v for k, v in data.items() if k in EARN_RULE_FIELDS})
    text_refuse(rule)
    _check_earn_rule(rule)
    rule.save()
    rule.tiers.set(tiers or [])
    audit_record(
        actor=actor,
        action="earn_rule.create",
        target=rule,
        summary=rule.name,
        after=model_snapshot(rule, EARN_RULE_FIELDS) | {"tiers": [t.pk for t in tiers or []]},
    )
    return rule


@transaction.atomic
def earn_rule_update(
    *, rule: EarnRule, actor: User, tiers: list[Tier] | None = None, **data: Any
) -> EarnRule:
    """Change an earn rule; refused like ``earn_rule_create`` when the result would lack what
    its kind needs, and then nothing changes."""
    return _earn_rule_update(rule=rule, actor=actor, tiers=tiers, check=_check_earn_rule, **data)


def _earn_rule_update(
    *, rule: EarnRule, actor: User, tiers: list[Tier] | None, check, **data: Any
) -> EarnRule:
    rule = EarnRule.objects.select_for_update().get(pk=rule.pk)
    before_tiers = sorted(rule.tiers.values_list("pk", flat=True))
    audited_update(
        instance=rule,
        fields=EARN_RULE_FIELDS,
        data=data,
        actor=actor,
        action="earn_rule.update",
        check=check,
    )
    if tiers is not None and sorted(t.pk for t in tiers) != before_tiers:
        rule.tiers.set(tiers)
        audit_record(
            actor=actor,
            action="earn_rule.update",
            target=rule,
            summary=rule.name,
            before={"tiers": before_tiers},
            after={"tiers": sorted(t.pk for t in tiers)},
        )
    return rule


@transaction.atomic
def earn_rule_deactivate(*, rule: EarnRule, actor: User) -> EarnRule:
    """Switch a rule off (kept for history: past earnings refer to it by name). An old rule
    that lacks what its kind needs can always be switched off."""
    return _earn_rule_update(rule=rule, actor=actor, tiers=None, check=validate, is_active=False)


def _check_window(starts_at, ends_at) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationFailed(_("The end must come after the start."))


@transaction.atomic
def tier_update(*, tier: Tier, actor: User, **data: Any) -> Tier:
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    threshold = data.get("threshold", tier.threshold)
    if data.get("retention_threshold", tier.retention_threshold) > threshold:
        raise ValidationFailed(_("The threshold to keep a tier cannot exceed the one to reach it."))
    return audited_update(
        instance=tier, fields=TIER_FIELDS, data=data, actor=actor, action="tier.update"
    )


def reward_problems(reward: Reward) -> list[tuple[str, str]]:
    """What the reward lacks, as (field, message) pairs: its window must end after it starts,
    and a voucher or cash-off reward needs the kind of coupon it pays out. The one place for
    this rule: the services refuse it, and the dashboard and admin forms show it."""
    problems = []
    if reward.starts_at and reward.ends_at and reward.ends_at <= reward.starts_at:
        problems.append(("ends_at", _("The end must come after the start.")))
    if reward.kind in VOUCHER_KINDS and not reward.coupon_kind:
        problems.append(("coupon_kind", _("A voucher reward needs the voucher's kind.")))
    return problems


def _check_reward(reward: Reward) -> None:
    if problems := reward_problems(reward):
        name, message = problems[0]
        raise ValidationFailed(message, field=name)
    validate(reward)


@transaction.atomic
def reward_create(*, actor: User, stock: int | None = None, **data: Any) -> Reward:
    """A new reward, refused when ``reward_problems`` finds anything; audited."""
    data = content_input(Reward, data)
    reward = Reward(stock=stock, **{k: v for k, v in data.items() if k in REWARD_FIELDS})
    text_refuse(reward)
    _check_reward(reward)
    reward.save()
    audit_record(
        actor=actor,
        action="reward.create",
        target=reward,
        summary=reward.name,
        after=model_snapshot(reward, [*REWARD_FIELDS, "stock"]),
    )
    return reward


@transaction.atomic
def reward_update(*, reward: Reward, actor: User, **data: Any) -> Reward:
    """Everything but stock (see ``reward_restock``); refused like ``reward_create``."""
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    return audited_update(
        instance=reward,
        fields=REWARD_FIELDS,
        data=data,
        actor=actor,
        action="reward.update",
        check=_check_reward,
    )


@transaction.atomic
def reward_restock(
    *, reward: Reward, actor: User, add: int | None = None, unlimited: bool = False
) -> Reward:
    """Add ``add`` units to the stock (a negative number writes stock off, never below 0), or
    make the reward unlimited. Under the reward's row lock, so it composes with redemptions."""
    reward = lock_reward(reward_id=reward.pk)
    before = reward.stock
    if unlimited:
        Reward.objects.filter(pk=reward.pk).update(stock=None, updated_at=timezone.now())
    else:
        if not add:
            raise ValidationFailed(_("Enter a number of units other than zero."))
        if reward.stock is None:
            if add < 0:
                raise ValidationFailed(_("An unlimited reward has no stock to write off."))
            Reward.objects.filter(pk=reward.pk).update(stock=add, updated_at=timezone.now())
        else:
            if reward.stock + add < 0:
                raise ValidationFailed(_("Only %(n)s units are in stock.") % {"n": reward.stock})
            Reward.objects.filter(pk=reward.pk).update(
                stock=F("stock") + add, updated_at=timezone.now()
            )
    reward.refresh_from_db(fields=["stock", "updated_at"])
    audit_record(
        actor=actor,
        action="reward.restock",
        target=reward,
        summary=f"{reward.name}: {before} → {reward.stock}"[:300],
        before={"stock": before},
        after={"stock": reward.stock},
    )
    return reward

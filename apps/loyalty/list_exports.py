"""Audited exports of the staff loyalty lists (issue 14): the points ledger, the fulfilment queue,
the adjustments waiting for approval, the reward catalogue, the earn rules and the tiers.

Each function reads the rows of its list's filters through the list's own selector and hands them
to :func:`apps.core.services.export_audited`, which counts them, records the ``export.<what>``
audit event (actor, format, the filters that were set, rows) and returns the header and a lazy
row iterator. Reports for people: column titles in the reader's language, labels instead of
codes, amounts as :class:`~apps.core.exports.Money`, times as times.

Names that members read in both languages (rewards, tiers, rules) are read from their rows, as
the page reads them (``values()`` would read the active language's column only, without the
fallback): each chunk of ids is fetched through the list's selector in one query (and its
prefetches), a fixed number of queries whatever the chunk's size.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.exports import ExportRows, money_cell, money_header, yes_no
from apps.core.services import export_audited
from apps.customers.enums import OrderChannel
from apps.customers.exports import store_names

from .enums import EarnEvent, EarnRuleKind, RedemptionStatus, RewardKind, TierMetric, TxKind
from .selectors import ledger_list
from .staff_selectors import (
    adjustments_pending_for_staff,
    earn_rule_list,
    fulfilment_queue,
    reward_list_for_staff,
    tier_list_with_members,
)

IDS = [("id", None)]


def _labels(choices) -> dict[str, str]:
    """A choice's code → its label in the active language."""
    return {code: str(label) for code, label in choices}


def _by_chunk(
    qs: QuerySet, row: Callable[[Any], Sequence]
) -> Callable[[list[tuple]], Iterable[Sequence]]:
    """A chunk of ``(id,)`` tuples → its rows, in the list's order: the chunk's objects read
    through ``qs`` (the list's selector, with its joins and prefetches) in one query."""

    def chunk(batch: list[tuple]) -> Iterable[Sequence]:
        objects = qs.in_bulk([pk for (pk,) in batch])
        return [row(objects[pk]) for (pk,) in batch if pk in objects]

    return chunk


def _audited(
    *,
    qs: QuerySet,
    header: list,
    row: Callable[[Any], Sequence],
    actor: User | None,
    fmt: str,
    what: str,
    filters: dict[str, Any],
) -> ExportRows:
    return export_audited(
        qs=qs,
        columns=IDS,
        header=header,
        fmt=fmt,
        actor=actor,
        action=f"export.{what}",
        filters=filters,
        chunk=_by_chunk(qs, row),
    )


# --- the points ledger ----------------------------------------------------------------------------

LEDGER_COLUMNS = [
    ("created_at", _("Date")),
    ("account__customer__member_number", _("Member number")),
    ("kind", _("Kind")),
    ("points", _("Points")),
    ("pending_points", _("Pending points")),
    ("balance_after", _("Balance after")),
    ("reason", _("Reason")),
    ("order__external_id", _("Order number")),
    ("order__store_id", _("Store")),
    ("actor__email", _("Recorded by")),
]


def ledger_export(
    *,
    actor: User | None,
    fmt: str,
    kind: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    member: str = "",
) -> ExportRows:
    """Every ledger row of the filters (``ledger_list``), in the order written: one query per
    chunk of rows, joined to the member, the order and the staff member who recorded it."""
    stores = store_names()
    kinds = _labels(TxKind.choices)

    def row(values: tuple) -> tuple:
        at, number, tx_kind, points, pending, balance, reason, order, store_id, by = values
        return (
            at,
            number or "",
            kinds.get(tx_kind, tx_kind),
            points,
            pending,
            balance,
            reason,
            order or "",
            stores.get(store_id, "") if store_id else "",
            by or "",
        )

    return export_audited(
        qs=ledger_list(kind=kind, since=since, until=until, member=member),
        columns=LEDGER_COLUMNS,
        fmt=fmt,
        actor=actor,
        action="export.ledger",
        filters={
            "kind": kind,
            "date_from": since.isoformat() if since else "",
            "date_to": until.isoformat() if until else "",
            "member": member,
        },
        row=row,
    )


# --- the fulfilment queue -------------------------------------------------------------------------

REDEMPTION_HEADER = [
    _("Requested"),
    _("Member number"),
    _("Member"),
    _("Reward"),
    _("Reward kind"),
    _("Quantity"),
    _("Points"),
    _("Status"),
    _("Pick-up store"),
    _("Delivery address"),
    _("Notes"),
    _("Fulfilled"),
    _("Cancelled"),
]


def redemptions_export(
    *, actor: User | None, fmt: str, status: str = RedemptionStatus.REQUESTED
) -> ExportRows:
    """The fulfilment queue under one status tab, in the queue's order."""
    kinds = _labels(RewardKind.choices)
    statuses = _labels(RedemptionStatus.choices)

    def row(r) -> tuple:
        customer = r.account.customer
        return (
            r.created_at,
            customer.member_number,
            customer.display_name,
            r.reward.name,
            kinds.get(r.reward.kind, r.reward.kind),
            r.quantity,
            r.points,
            statuses.get(r.status, r.status),
            r.pickup_store.name if r.pickup_store is not None else "",
            r.delivery_address,
            r.fulfilment_notes,
            r.fulfilled_at,
            r.cancelled_at,
        )

    return _audited(
        qs=fulfilment_queue(status=status),
        header=REDEMPTION_HEADER,
        row=row,
        actor=actor,
        fmt=fmt,
        what="redemptions",
        filters={"status": status},
    )


# --- adjustments waiting for approval -------------------------------------------------------------

APPROVAL_HEADER = [
    _("Requested"),
    _("Member number"),
    _("Member"),
    _("Points"),
    _("Balance now"),
    _("Reason"),
    _("Requested by"),
]


def approvals_export(*, actor: User | None, fmt: str) -> ExportRows:
    """The points adjustments waiting for a manager, oldest first, as the queue shows them."""

    def row(a) -> tuple:
        customer = a.account.customer
        return (
            a.requested_at,
            customer.member_number,
            customer.display_name,
            a.points,
            a.account.balance,
            a.reason,
            a.requested_by.display_name if a.requested_by is not None else "",
        )

    return _audited(
        qs=adjustments_pending_for_staff(),
        header=APPROVAL_HEADER,
        row=row,
        actor=actor,
        fmt=fmt,
        what="approvals",
        filters={},
    )


# --- the reward catalogue -------------------------------------------------------------------------

REWARD_HEADER = [
    _("Reward"),
    _("Code"),
    _("Kind"),
    _("Cost (points)"),
    _("Stock"),
    _("Redeemed"),
    _("Minimum tier"),
    _("Limit per member"),
    _("Available from"),
    _("Available until"),
    _("Active"),
]


def rewards_export(*, actor: User | None, fmt: str, query: str = "", kind: str = "") -> ExportRows:
    """The reward catalogue under the list's search and kind (``reward_list_for_staff``)."""
    kinds = _labels(RewardKind.choices)
    unlimited = gettext("Unlimited")

    def row(r) -> tuple:
        return (
            r.name,
            r.slug,
            kinds.get(r.kind, r.kind),
            r.cost_points,
            unlimited if r.stock is None else r.stock,
            r.redeemed,
            r.min_tier.name if r.min_tier is not None else "",
            r.per_member_limit,
            r.starts_at,
            r.ends_at,
            yes_no(r.is_active),
        )

    return _audited(
        qs=reward_list_for_staff(query=query, kind=kind),
        header=REWARD_HEADER,
        row=row,
        actor=actor,
        fmt=fmt,
        what="rewards",
        filters={"q": query, "kind": kind},
    )


# --- earn rules -----------------------------------------------------------------------------------


def earn_rule_header() -> list:
    return [
        _("Name"),
        _("Kind"),
        _("Category"),
        _("SKU"),
        _("Store"),
        _("Channel"),
        _("Event"),
        _("Only for tiers"),
        money_header(_("Minimum spend")),
        _("Multiplier"),
        _("Bonus points"),
        _("Priority"),
        _("Stacks with other rules"),
        _("Starts"),
        _("Ends"),
        _("Active"),
    ]


def earn_rules_export(*, actor: User | None, fmt: str, active: str = "") -> ExportRows:
    """The earn rules, all or only the active or switched-off ones (``earn_rule_list``)."""
    kinds = _labels(EarnRuleKind.choices)
    channels = _labels(OrderChannel.choices)
    events = _labels(EarnEvent.choices)

    def row(rule) -> tuple:
        return (
            rule.name,
            kinds.get(rule.kind, rule.kind),
            rule.category,
            rule.sku,
            rule.store.name if rule.store is not None else "",
            channels.get(rule.channel, rule.channel),
            events.get(rule.event, rule.event),
            ", ".join(tier.name for tier in rule.tiers.all()),
            money_cell(rule.min_spend),
            rule.multiplier,
            rule.bonus_points,
            rule.priority,
            yes_no(rule.stackable),
            rule.starts_at,
            rule.ends_at,
            yes_no(rule.is_active),
        )

    return _audited(
        qs=earn_rule_list(active=active),
        header=earn_rule_header(),
        row=row,
        actor=actor,
        fmt=fmt,
        what="earn_rules",
        filters={"active": active},
    )


# --- tiers ----------------------------------------------------------------------------------------

TIER_HEADER = [
    _("Tier"),
    _("Code"),
    _("Rank"),
    _("Qualifies by"),
    _("To reach"),
    _("To keep"),
    _("Window (months)"),
    _("Earn multiplier"),
    _("Entry gift (points)"),
    _("Benefits"),
    _("Members"),
]


def tiers_export(*, actor: User | None, fmt: str) -> ExportRows:
    """The tier ladder with its members. The thresholds are amounts (money cells) for a tier
    reached by spend, points for one reached by points earned."""
    metrics = _labels(TierMetric.choices)

    def row(tier) -> tuple:
        by_spend = tier.metric == TierMetric.SPEND
        return (
            tier.name,
            tier.slug,
            tier.rank,
            metrics.get(tier.metric, tier.metric),
            money_cell(tier.threshold) if by_spend else int(tier.threshold),
            money_cell(tier.retention_threshold) if by_spend else int(tier.retention_threshold),
            tier.window_months,
            tier.earn_multiplier,
            tier.entry_gift_points,
            "; ".join(tier.benefit_list),
            tier.members,
        )

    return _audited(
        qs=tier_list_with_members(),
        header=TIER_HEADER,
        row=row,
        actor=actor,
        fmt=fmt,
        what="tiers",
        filters={},
    )

"""Ledger rows in plain words, in the reader's language: "Purchase at Shanghai Nanjing Road ·
order 000123 · 158 points (Gold ×1.2)", "Refund of ¥80 on order 000123 · −32 points",
"Redeemed: Tea set", "Expired: points earned in May 2025", "Birthday bonus".

Every word is built when the row is shown, from structure: the row's kind, its links (order and
store, refund, redemption and reward, lot), its ``detail`` (ids and codes its service recorded:
tier and multiplier, rules, which bonus, badge) and, for rows written before ``detail``
existed, the idempotency-key conventions of the services that wrote them. Names come from the
related objects (``.name``, in the active language). The one stored text shown is ``reason``
where staff wrote it (an adjustment, a cancellation note): staff content, shown as it is.

``describe`` answers for a page of rows in a fixed number of queries: the caller selects the
rows with ``LEDGER_RELATED`` (one query), and the tiers, rules and badges the rows name are read
in at most one query each. A kind this module does not know (one added later) reads as its
label, with its points, never an error.

A row's link is a ``Target`` (order, redemption or badge, with what a URL needs); the delivery
layer maps it to a URL for its audience (the member portal or the staff dashboard).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.core import formatting

from .enums import TX_GROUP_KINDS, BonusKind, EarnEvent, TxKind
from .models import Badge, EarnRule, PointsTransaction, Tier

# What ``describe`` reads through each row's links: select these with the rows.
LEDGER_RELATED = ("order__store", "refund", "redemption__reward", "lot", "actor")

MEMBER = "member"
STAFF = "staff"

_GROUP_OF = {kind: group for group, kinds in TX_GROUP_KINDS.items() for kind in kinds}


@dataclass(frozen=True)
class Target:
    """What a row links to. ``kind`` is "order", "redemption" or "badge"; ``pk`` its id;
    ``number`` and ``store`` the order's external id and store code, ``slug`` a badge's code."""

    kind: str
    pk: int
    number: str = ""
    store: str = ""
    slug: str = ""


@dataclass(frozen=True)
class LedgerLine:
    """One ledger row as a reader sees it. ``points`` is what the row moved (for a maturation:
    what became spendable); ``points_note`` qualifies it ("Gold ×1.2")."""

    tx: PointsTransaction
    headline: str
    details: tuple[str, ...] = ()
    points_note: str = ""
    target: Target | None = None
    group: str = ""
    kind_label: str = ""

    @property
    def points(self) -> int:
        if self.tx.kind == TxKind.MATURE:
            return self.tx.points
        return self.tx.points + self.tx.pending_points

    @property
    def pending(self) -> bool:
        """Still waiting for the return window (a pending earn)."""
        return self.tx.kind == TxKind.PENDING

    @property
    def points_text(self) -> str:
        text = formatting.points(self.points)
        return f"{text} ({self.points_note})" if self.points_note else text

    @property
    def text(self) -> str:
        """The whole line as one sentence (e-mails, exports, the timeline)."""
        return " · ".join([self.headline, *self.details, self.points_text])

    @property
    def detail_text(self) -> str:
        parts = [*self.details, self.points_note] if self.points_note else list(self.details)
        return " · ".join(parts)


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    if moment is None:
        return None
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def legacy_detail(tx: PointsTransaction) -> dict:
    """``detail`` for a row written before the field existed, from the idempotency keys the
    services have always used (the key is in the hash chain, so it is as trustworthy as the
    row): ``bonus:signup:<customer>``, ``bonus:birthday:<customer>:<year>``,
    ``bonus:referral:<referral>:referee|referrer``, ``bonus:badge:<customer>:<badge>``,
    ``bonus:tier-gift:<account>:<tier>``, ``event:<event>:<customer>:<digest>``."""
    parts = tx.idempotency_key.split(":")
    if parts[0] == "event" and len(parts) >= 2:
        return {"bonus": BonusKind.EVENT, "event": parts[1]}
    if parts[0] != "bonus" or len(parts) < 3:
        return {}
    what = parts[1]
    if what == "signup":
        return {"bonus": BonusKind.WELCOME}
    if what == "birthday":
        return {"bonus": BonusKind.BIRTHDAY}
    if what == "referral" and len(parts) >= 4:
        role = BonusKind.REFERRED if parts[3] == "referee" else BonusKind.REFERRAL
        return {"bonus": role, "referral": _int(parts[2])}
    if what == "badge" and len(parts) >= 4:
        return {"bonus": BonusKind.BADGE, "badge": _int(parts[3])}
    if what == "tier-gift" and len(parts) >= 4:
        return {"bonus": BonusKind.TIER_GIFT, "tier": _int(parts[3])}
    return {}


def _detail(tx: PointsTransaction) -> dict:
    detail = tx.detail if isinstance(tx.detail, dict) else {}
    return detail or legacy_detail(tx)


class _Lookups:
    """The tiers, rules and badges a page of rows names, read once each."""

    def __init__(self, details: list[dict]) -> None:
        tier_ids, rule_ids, badge_ids = set(), set(), set()
        for d in details:
            if (tier := _int(d.get("tier"))) is not None:
                tier_ids.add(tier)
            rule_ids.update(r for r in map(_int, d.get("rules") or ()) if r is not None)
            if (badge := _int(d.get("badge"))) is not None:
                badge_ids.add(badge)
        self.tiers = Tier.objects.in_bulk(tier_ids) if tier_ids else {}
        self.rules = EarnRule.objects.in_bulk(rule_ids) if rule_ids else {}
        self.badges = Badge.objects.in_bulk(badge_ids) if badge_ids else {}

    def rule_names(self, detail: dict) -> list[str]:
        rules = (self.rules.get(_int(r)) for r in detail.get("rules") or ())
        return [rule.name for rule in rules if rule is not None]


def _order_target(tx: PointsTransaction) -> Target | None:
    order = tx.order
    if order is None:
        return None
    store = order.store.code if order.store_id else ""
    return Target(kind="order", pk=order.pk, number=order.external_id, store=store)


def _order_number(tx: PointsTransaction) -> str:
    return _("order %(number)s") % {"number": tx.order.external_id} if tx.order else ""


def _store_name(tx: PointsTransaction) -> str:
    order = tx.order
    return order.store.name if order is not None and order.store_id else ""


def _multiplier(detail: dict, lookups: _Lookups) -> str:
    tier = lookups.tiers.get(_int(detail.get("tier")))
    factor = detail.get("multiplier")
    if tier is None or not factor:
        return ""
    return _("%(tier)s ×%(factor)s") % {"tier": tier.name, "factor": factor}


def _purchase(tx, detail, lookups, *, now_available: bool = False) -> LedgerLine:
    store = _store_name(tx)
    number = _order_number(tx)
    if now_available:
        headline = (
            _("Now available: purchase at %(store)s") % {"store": store}
            if store
            else _("Pending points now available")
        )
    else:
        headline = _("Purchase at %(store)s") % {"store": store} if store else _("Purchase")
    details = [number] if number else []
    if tx.kind == TxKind.PENDING and tx.lot is not None:
        available = _local_date(tx.lot.available_at)
        details.append(
            _("available from %(date)s") % {"date": date_format(available, "DATE_FORMAT")}
        )
    details += lookups.rule_names(detail)
    return LedgerLine(
        tx=tx,
        headline=headline,
        details=tuple(details),
        points_note="" if now_available else _multiplier(detail, lookups),
        target=_order_target(tx),
    )


def _bonus(tx, detail, lookups) -> LedgerLine | None:
    bonus = detail.get("bonus")
    if bonus == BonusKind.BADGE:
        badge = lookups.badges.get(_int(detail.get("badge")))
        if badge is None:
            return LedgerLine(tx=tx, headline=_("Badge bonus"))
        return LedgerLine(
            tx=tx,
            headline=_("Badge: %(name)s") % {"name": badge.name},
            target=Target(kind="badge", pk=badge.pk, slug=badge.slug),
        )
    if bonus == BonusKind.TIER_GIFT:
        tier = lookups.tiers.get(_int(detail.get("tier")))
        if tier is None:
            return LedgerLine(tx=tx, headline=BonusKind.TIER_GIFT.label)
        return LedgerLine(tx=tx, headline=_("Welcome gift for %(tier)s") % {"tier": tier.name})
    if bonus == BonusKind.EVENT:
        event = detail.get("event", "")
        label = EarnEvent(event).label if event in EarnEvent.values else event
        headline = _("Bonus: %(event)s") % {"event": label} if label else _("Event bonus")
        return LedgerLine(tx=tx, headline=headline, details=tuple(lookups.rule_names(detail)))
    if bonus in BonusKind.values:
        return LedgerLine(tx=tx, headline=BonusKind(bonus).label)
    return None


def _earn(tx, detail, lookups, audience) -> LedgerLine:
    if tx.order_id is not None:
        return _purchase(tx, detail, lookups)
    if (line := _bonus(tx, detail, lookups)) is not None:
        return line
    # Points given by a path that recorded nothing more (older code, a data fix): what the
    # service wrote is all there is.
    return LedgerLine(tx=tx, headline=_("Bonus points"), details=(tx.reason,) if tx.reason else ())


def _redeem(tx, detail, lookups, audience) -> LedgerLine:
    redemption = tx.redemption
    if redemption is None:
        return LedgerLine(tx=tx, headline=_("Redeemed"))
    details = []
    if redemption.quantity > 1:
        details.append(_("× %(n)s") % {"n": formatting.number(redemption.quantity)})
    return LedgerLine(
        tx=tx,
        headline=_("Redeemed: %(reward)s") % {"reward": redemption.reward.name},
        details=tuple(details),
        target=Target(kind="redemption", pk=redemption.pk),
    )


def _reverse(tx, detail, lookups, audience) -> LedgerLine:
    redemption = tx.redemption
    headline = (
        _("Redemption cancelled: %(reward)s") % {"reward": redemption.reward.name}
        if redemption is not None
        else _("Redemption cancelled")
    )
    details = []
    if detail.get("by") == "member":
        details.append(_("at your request") if audience == MEMBER else _("by the member"))
    elif (detail.get("note") if "note" in detail else tx.actor_id is not None) and tx.reason:
        details.append(tx.reason)  # a note staff wrote when cancelling
    target = Target(kind="redemption", pk=redemption.pk) if redemption is not None else None
    return LedgerLine(tx=tx, headline=headline, details=tuple(details), target=target)


def _expire(tx, detail, lookups, audience) -> LedgerLine:
    earned = _local_date(tx.lot.earned_at) if tx.lot is not None else None
    if earned is None:
        return LedgerLine(tx=tx, headline=_("Points expired"))
    month = date_format(earned, "YEAR_MONTH_FORMAT")
    return LedgerLine(tx=tx, headline=_("Expired: points earned in %(month)s") % {"month": month})


def _adjust(tx, detail, lookups, audience) -> LedgerLine:
    if not tx.reason:
        return LedgerLine(tx=tx, headline=_("Adjustment by staff"))
    return LedgerLine(tx=tx, headline=_("Adjustment by staff: %(reason)s") % {"reason": tx.reason})


def _refund(tx, detail, lookups, audience) -> LedgerLine:
    refund = tx.refund
    if refund is None:
        # Points owed from an earlier refund, taken from points that became available.
        return LedgerLine(tx=tx, headline=_("Points owed from a refund, settled"))
    amount = formatting.money(refund.amount, trim=True)
    headline = (
        _("Refund of %(amount)s on order %(number)s")
        % {"amount": amount, "number": tx.order.external_id}
        if tx.order is not None
        else _("Refund of %(amount)s") % {"amount": amount}
    )
    details = []
    if expired := _int(detail.get("expired")):
        details.append(_("%(points)s had already expired") % {"points": formatting.points(expired)})
    if owed := _int(detail.get("owed")):
        details.append(
            _("%(points)s owed, taken from your next points") % {"points": formatting.points(owed)}
            if audience == MEMBER
            else _("%(points)s owed") % {"points": formatting.points(owed)}
        )
    return LedgerLine(tx=tx, headline=headline, details=tuple(details), target=_order_target(tx))


def _pending(tx, detail, lookups, audience) -> LedgerLine:
    return _purchase(tx, detail, lookups)


def _mature(tx, detail, lookups, audience) -> LedgerLine:
    return _purchase(tx, detail, lookups, now_available=True)


def _compensate(tx, detail, lookups, audience) -> LedgerLine:
    details = []
    if tx.source_ref:
        details.append(tx.source_ref)  # the ticket's reference, e.g. C-2026-000123
    if tx.actor_id is not None and tx.reason:
        details.append(tx.reason)
    return LedgerLine(tx=tx, headline=_("Compensation"), details=tuple(details))


def _transfer(tx, detail, lookups, audience) -> LedgerLine:
    # A customer merge moves the merged-away membership's points in one pair of rows; the
    # source reference names the other membership ("merge:<member number>").
    other = tx.source_ref.removeprefix("merge:") if tx.source_ref.startswith("merge:") else ""
    if tx.points < 0 or tx.pending_points < 0:
        headline = (
            _("Moved to membership %(number)s (memberships merged)") % {"number": other}
            if other
            else _("Moved to another membership (memberships merged)")
        )
    else:
        headline = (
            _("Moved from membership %(number)s (memberships merged)") % {"number": other}
            if other
            else _("Moved from another membership (memberships merged)")
        )
    return LedgerLine(tx=tx, headline=headline)


def expiring_text(*, points: int, expires_on: dt.date, earned_in: dt.date | None = None) -> str:
    """Points about to expire, in the words of an expired row: "120 points earned in May 2025
    expire on 10 May 2026" (e-mails and the inbox)."""
    values = {
        "points": formatting.points(points),
        "date": date_format(expires_on, "DATE_FORMAT"),
    }
    if earned_in is None:
        return (
            ngettext("%(points)s expires on %(date)s", "%(points)s expire on %(date)s", points)
            % values
        )
    values["month"] = date_format(earned_in, "YEAR_MONTH_FORMAT")
    return (
        ngettext(
            "%(points)s earned in %(month)s expires on %(date)s",
            "%(points)s earned in %(month)s expire on %(date)s",
            points,
        )
        % values
    )


_DESCRIBERS = {
    TxKind.EARN: _earn,
    TxKind.PENDING: _pending,
    TxKind.MATURE: _mature,
    TxKind.REDEEM: _redeem,
    TxKind.REVERSE: _reverse,
    TxKind.EXPIRE: _expire,
    TxKind.ADJUST: _adjust,
    TxKind.REFUND: _refund,
    TxKind.COMPENSATE: _compensate,
    TxKind.TRANSFER: _transfer,
}


def _fallback(tx: PointsTransaction) -> LedgerLine:
    return LedgerLine(tx=tx, headline=formatting.choice_label(TxKind, tx.kind))


def describe(rows: Iterable[PointsTransaction], *, audience: str = MEMBER) -> list[LedgerLine]:
    """Each row in plain words for ``audience`` (``MEMBER`` or ``STAFF``), in the active
    language. Select the rows with ``select_related(*LEDGER_RELATED)``; this adds at most one
    query each for the tiers, rules and badges the rows name."""
    rows = list(rows)
    details = [_detail(tx) for tx in rows]
    lookups = _Lookups(details)
    lines = []
    for tx, detail in zip(rows, details, strict=True):
        describer = _DESCRIBERS.get(tx.kind)
        line = describer(tx, detail, lookups, audience) if describer else _fallback(tx)
        lines.append(
            LedgerLine(
                tx=tx,
                headline=str(line.headline),  # labels are lazy: text in the active language
                details=tuple(str(d) for d in line.details if d),
                points_note=line.points_note,
                target=line.target,
                group=_GROUP_OF.get(tx.kind, ""),
                kind_label=formatting.choice_label(TxKind, tx.kind),
            )
        )
    return lines

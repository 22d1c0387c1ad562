"""The audit trail, readable (reads only): filters, keyset pages, labels and diffs of
:class:`~apps.core.models.AuditEvent` rows.

Paging is keyset (seek) paging on ``(at, id)``, newest first: a page is "the N rows after this
(at, id)", answered from the composite indexes on ``(at, id)``, ``(actor, at, id)`` and
``(action, at, id)`` in as long as the first page takes, however deep. There is no total count
and no OFFSET: at a million rows either would scan the table. Equal timestamps cannot drop or
repeat a row between pages because ``id`` breaks the tie.

Action codes are written by services in every app (``customer.update``, ``points.adjust``, ...);
:data:`ACTION_LABELS` is the one place that says them in words. An unknown code shows as is.
"""

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .content import content_label, split_localized, translated_fields
from .models import AuditEvent

PAGE_SIZE = 50

ACTION_LABELS = {
    "api_key.create": _("API key created"),
    "api_key.revoke": _("API key revoked"),
    "badge.create": _("Badge created"),
    "badge.update": _("Badge changed"),
    "badge.delete": _("Badge deleted"),
    "consent.grant": _("Consent given"),
    "consent.withdraw": _("Consent withdrawn"),
    "coupon.deactivate": _("Coupon switched off"),
    "coupon.update": _("Coupon changed"),
    "coupon.delete": _("Coupon deleted"),
    "coupon_batch.create": _("Coupon batch created"),
    "customer.create": _("Customer created"),
    "customer.update": _("Customer changed"),
    "customer.erase": _("Customer erased"),
    "customer.export": _("Customer data exported"),
    "customer.tag_add": _("Tag added"),
    "customer.tag_remove": _("Tag removed"),
    "earn_rule.create": _("Earn rule created"),
    "earn_rule.update": _("Earn rule changed"),
    "earn_rule.delete": _("Earn rule deleted"),
    "export.audit": _("Audit trail exported"),
    "export.campaign": _("Campaign results exported"),
    "export.campaign_messages": _("Campaign messages exported"),
    "export.coupons": _("Coupons exported"),
    "export.customers": _("Customers exported"),
    "export.liability": _("Points liability exported"),
    "export.orders": _("Orders exported"),
    "export.points_history": _("Points history exported"),
    "export.survey_report": _("Survey report exported"),
    "export.complaint_report": _("Complaint report exported"),
    "complaints.compensation_requested": _("Compensation requested"),
    "complaints.compensation_approved": _("Compensation approved"),
    "complaints.compensation_rejected": _("Compensation rejected"),
    "core.calendar_imported": _("Business calendar loaded"),
    "segment.create": _("Segment created"),
    "segment.update": _("Segment changed"),
    "segment.delete": _("Segment deleted"),
    "segment.freeze": _("Segment frozen"),
    "campaign.create": _("Campaign created"),
    "campaign.update": _("Campaign changed"),
    "campaign.start": _("Campaign started"),
    "campaign.pause": _("Campaign paused"),
    "campaign.resume": _("Campaign resumed"),
    "campaign.cancel": _("Campaign cancelled"),
    "export.segment": _("Segment exported"),
    "export.at_risk": _("At-risk list exported"),
    "export.cohorts": _("Cohort retention exported"),
    "export.kpi": _("KPIs exported"),
    "analytics.at_risk_assign": _("At-risk customer assigned"),
    "analytics.settings": _("Customer value settings changed"),
    "export.survey_responses": _("Survey responses exported"),
    "export.ledger": _("Points ledger exported"),
    "export.redemptions": _("Redemptions exported"),
    "export.approvals": _("Adjustments to approve exported"),
    "export.rewards": _("Rewards exported"),
    "export.earn_rules": _("Earn rules exported"),
    "export.tiers": _("Tiers exported"),
    "export.campaigns": _("Campaigns exported"),
    "export.segments": _("Segments exported"),
    "import.customers": _("Customers imported"),
    "import.orders": _("Orders imported"),
    "interaction.create": _("Interaction logged"),
    "membership.claim": _("Membership claimed"),
    "points.adjust": _("Points adjusted"),
    "points.adjust_requested": _("Points adjustment requested"),
    "points.adjust_approved": _("Points adjustment approved"),
    "points.adjust_rejected": _("Points adjustment rejected"),
    "programme.update": _("Programme settings changed"),
    "programme.delete": _("Programme settings deleted"),
    "redemption.cancel": _("Redemption cancelled"),
    "redemption.fulfil": _("Redemption fulfilled"),
    "reward.create": _("Reward created"),
    "reward.update": _("Reward changed"),
    "reward.delete": _("Reward deleted"),
    "reward.redeem": _("Reward redeemed"),
    "reward.restock": _("Reward restocked"),
    "staff.invite": _("Staff member invited"),
    "staff.invite_resend": _("Staff invitation sent again"),
    "staff.role_change": _("Staff role changed"),
    "staff.deactivate": _("Staff member deactivated"),
    "staff.reactivate": _("Staff member reactivated"),
    "staff.update": _("Staff account changed in the admin"),
    "tier.create": _("Tier created"),
    "tier.update": _("Tier changed"),
    "tier.delete": _("Tier deleted"),
    "tier.downgrade": _("Tier downgraded"),
}

# What audit rows point at, in the target-type filter. A type not listed still filters (the
# form accepts any ``app_label.model``) and shows by its model's name.
TARGET_TYPES = (
    "customers.customer",
    "loyalty.loyaltyaccount",
    "loyalty.earnrule",
    "loyalty.tier",
    "loyalty.reward",
    "loyalty.redemption",
    "loyalty.coupon",
    "loyalty.couponbatch",
    "loyalty.badge",
    "loyalty.programme",
    "accounts.apikey",
    "accounts.user",
    "complaints.compensation",
    "core.businesscalendar",
)


def action_label(code: str) -> str:
    """The action in words, in the active language; the code itself when unknown."""
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def action_choices() -> list[tuple[str, str]]:
    """(code, label) of every known action, by label."""
    return sorted(((code, str(label)) for code, label in ACTION_LABELS.items()), key=lambda c: c[1])


def _model(target_type: str):
    try:
        return apps.get_model(target_type)
    except (LookupError, ValueError):
        return None


def target_type_label(target_type: str) -> str:
    """``customers.customer`` → "Customer" (the model's name, translated); else the code."""
    model = _model(target_type)
    return capfirst(str(model._meta.verbose_name)) if model is not None else target_type


def target_type_choices() -> list[tuple[str, str]]:
    return sorted(((t, target_type_label(t)) for t in TARGET_TYPES), key=lambda c: c[1])


def field_label(target_type: str, key: str) -> str:
    """A snapshot key in words where it is a field of the target's model (``points_per_unit``
    → "Points per currency unit"); else the key."""
    model = _model(target_type)
    if model is None or "." in key:
        return key
    if (parts := split_localized(key)) and parts[0] in translated_fields(model):
        base, lang = parts
        return content_label(capfirst(str(model._meta.get_field(base).verbose_name)), lang)
    try:
        field = model._meta.get_field(key)
    except FieldDoesNotExist:
        return key
    # A reverse relation (a campaign's "variants") has no verbose name of its own.
    name = getattr(field, "verbose_name", None) or field.related_model._meta.verbose_name_plural
    return capfirst(str(name))


def field_value(target_type: str, key: str, value: Any) -> str:
    """A recorded value as text; a choice field's value as its label ("Fixed amount", not
    ``fixed``)."""
    model = _model(target_type)
    if model is not None and "." not in key and isinstance(value, str):
        try:
            f = model._meta.get_field(key)
        except FieldDoesNotExist:
            f = None
        if f is not None and getattr(f, "choices", None):
            return str(dict(f.flatchoices).get(value, value))
    return display_value(value)


# --- diff -----------------------------------------------------------------------------------

MISSING = object()


@dataclass(frozen=True)
class DiffRow:
    key: str
    label: str
    before: str | None  # None: the key was not there
    after: str | None
    status: str  # "added" | "removed" | "changed"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``filters.q``); anything else is one value."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {"": value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            out |= _flatten(item, name)
        else:
            out[name] = item
    return out


def display_value(value: Any) -> str:
    """One JSON value as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def pretty_json(value: Any) -> str:
    """A snapshot as indented JSON for reading; "" when nothing was recorded."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2, default=str)


def audit_diff(before: Any, after: Any, *, target_type: str = "") -> list[DiffRow]:
    """The keys whose value differs between ``before`` and ``after`` (nested dicts compared key
    by key), in the order they appear: after's keys first, then the ones only before had."""
    old = _flatten(before) if before is not None else {}
    new = _flatten(after) if after is not None else {}
    rows = []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key, MISSING), new.get(key, MISSING)
        if a == b:
            continue
        status = "added" if a is MISSING else "removed" if b is MISSING else "changed"
        rows.append(
            DiffRow(
                key=key,
                label=field_label(target_type, key),
                before=None if a is MISSING else field_value(target_type, key, a),
                after=None if b is MISSING else field_value(target_type, key, b),
                status=status,
            )
        )
    return rows


# --- filters and keyset pages ---------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the list shows. Dates are local calendar days, both ends included."""

    actor_id: int | None = None
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_list(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Matching events, newest first, with their actors."""
    qs = AuditEvent.objects.select_related("actor")
    if filters.actor_id is not None:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.target_type:
        qs = qs.filter(target_type=filters.target_type)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.date_from:
        qs = qs.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    return qs.order_by("-at", "-id")


def audit_get(*, pk: int) -> AuditEvent:
    return AuditEvent.objects.select_related("actor").get(pk=pk)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class AuditCursor:
    """A position in the (at, id) order, written into links as ``<epoch µs>.<id>``."""

    at: dt.datetime
    id: int

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditCursor":
        return cls(at=event.at, id=event.pk)

    def encode(self) -> str:
        return f"{(self.at - _EPOCH) // _MICRO}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> "AuditCursor | None":
        """The cursor, or None for anything that is not one (a stale or edited link)."""
        micros, sep, pk = (text or "").partition(".")
        try:
            return cls(at=_EPOCH + int(micros) * _MICRO, id=int(pk)) if sep else None
        except (ValueError, OverflowError):
            return None


def _position():
    return Tuple(F("at"), F("id"))


@dataclass
class AuditPage:
    events: list[AuditEvent] = field(default_factory=list)
    older: str = ""  # cursor of the next (older) page; "" on the last
    newer: str = ""  # cursor of the previous (newer) page; "" on the first
    is_first: bool = True


def _first_page(qs: QuerySet[AuditEvent], size: int) -> AuditPage:
    rows = list(qs[: size + 1])
    return AuditPage(
        events=rows[:size],
        older=AuditCursor.of(rows[size - 1]).encode() if len(rows) > size else "",
    )


def audit_page(
    *, filters: AuditFilters, older_than: str = "", newer_than: str = "", size: int = PAGE_SIZE
) -> AuditPage:
    """One page of the filtered list: the first, the ``size`` rows older than the
    ``older_than`` cursor, or those newer than ``newer_than``. One query (two when a "newer"
    link leads back to the start, which is then shown whole)."""
    qs = audit_list(filters=filters)
    if cursor := AuditCursor.decode(newer_than):
        newer = list(
            qs.filter(TupleGreaterThan(_position(), (cursor.at, cursor.id))).order_by("at", "id")[
                : size + 1
            ]
        )
        if len(newer) <= size:
            return _first_page(qs, size)
        events = newer[:size][::-1]
        return AuditPage(
            events=events,
            older=AuditCursor.of(events[-1]).encode(),
            newer=AuditCursor.of(events[0]).encode(),
            is_first=False,
        )
    if cursor := AuditCursor.decode(older_than):
        rows = list(qs.filter(TupleLessThan(_position(), (cursor.at, cursor.id)))[: size + 1])
        events = rows[:size]
        return AuditPage(
            events=events,
            older=AuditCursor.of(events[-1]).encode() if len(rows) > size else "",
            # Back from an empty page past the end: the page that ends at the cursor's row
            # ((at, id) > (at, id - 1) is (at, id) >= the cursor, ids being integers).
            newer=(
                AuditCursor.of(events[0]) if events else AuditCursor(cursor.at, cursor.id - 1)
            ).encode(),
            is_first=False,
        )
    return _first_page(qs, size)


# Every export is audited (invariant 8), so the audit trail is the list of past exports: no
# second record of them, and nothing of what they held is kept.
EXPORT_ACTIONS = (
    "customer.export",
    *sorted(code for code in ACTION_LABELS if code.startswith("export.")),
)


def export_history(*, actor_id: int | None = None) -> QuerySet[AuditEvent]:
    """Past exports, newest first: ``actor_id``'s, or every staff member's (members' own
    downloads of their data are theirs, not a staff export). ``action IN (...)`` and
    ``actor_id`` use the ``(action, at, id)`` and ``(actor, at, id)`` indexes."""
    whose = {"actor_id": actor_id} if actor_id is not None else {"actor__is_staff": True}
    return (
        AuditEvent.objects.filter(action__in=EXPORT_ACTIONS, **whose)
        .select_related("actor")
        .order_by("-at", "-id")
    )


def audit_export_bound() -> int:
    """The newest event id now: an export lists the rows up to it, so its own audit row (and
    anything written while it streams) is not in the file whose row count it records."""
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def actor_display(event: AuditEvent) -> tuple[str, str]:
    """(name, e-mail or, for a member who signs in by phone, mobile number) of who acted; the
    stored label when the account is gone or for the system."""
    if event.actor is not None:
        return event.actor.get_full_name(), event.actor.email or event.actor.phone
    # Events without a person were stored with the label "system": say it in the reader's words.
    label = event.actor_label if event.actor_label not in ("", "system") else str(_("system"))
    return label, ""


def distinct_target_ids(events: Iterable[AuditEvent], target_type: str) -> set[int]:
    """Integer ids of the events' targets of one type (for one look-up of their links)."""
    return {
        int(e.target_id) for e in events if e.target_type == target_type and e.target_id.isdigit()
    }

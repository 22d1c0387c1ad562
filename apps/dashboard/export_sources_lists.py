"""The export table's entries for the loyalty lists, the campaign list and the segment list
(issue 14), as keyword arguments of :class:`~apps.dashboard.export_sources.ExportSource`, which
``export_sources`` turns into its ``SOURCES`` (this module does not import it: it would be a
cycle).

Each list's filters are read by the function its page reads them with (``list_filters``,
``forms_ledger``), and its rows come from the domain app's audited export service. ``size`` is
given for the lists that can grow large (the ledger, the fulfilment queue); the others are
configuration lists or short queues, always streamed in the request."""

from collections.abc import Mapping

from django.core.exceptions import BadRequest
from django.utils.translation import gettext_lazy as _

from apps.analytics.list_exports import segments_export
from apps.campaigns.list_exports import campaigns_export
from apps.core.exports import ExportRows
from apps.loyalty.list_exports import (
    approvals_export,
    earn_rules_export,
    ledger_export,
    redemptions_export,
    rewards_export,
    tiers_export,
)
from apps.loyalty.selectors import ledger_list
from apps.loyalty.staff_selectors import fulfilment_queue

from .forms_ledger import LEDGER_KEYS, LedgerFilterForm
from .list_filters import (
    campaign_filters_parse,
    earn_rule_active_param,
    redemption_status_param,
    reward_filters_parse,
)

Params = Mapping[str, str]


# --- the points ledger ----------------------------------------------------------------------------


def _ledger_filters(p: Params) -> dict:
    form = LedgerFilterForm(dict(p))
    if not form.is_valid():
        raise BadRequest  # the ledger page's form says why; "everything" would mislead
    return form.filters()


def _ledger_rows(p: Params, actor, fmt: str) -> ExportRows:
    return ledger_export(actor=actor, fmt=fmt, **_ledger_filters(p))


def _ledger_size(p: Params, actor) -> int:
    return ledger_list(**_ledger_filters(p)).count()


# --- the fulfilment queue -------------------------------------------------------------------------


def _redemptions_rows(p: Params, actor, fmt: str) -> ExportRows:
    return redemptions_export(actor=actor, fmt=fmt, status=redemption_status_param(p))


def _redemptions_size(p: Params, actor) -> int:
    return fulfilment_queue(status=redemption_status_param(p)).count()


# --- configuration lists and short queues ---------------------------------------------------------


def _approvals_rows(p: Params, actor, fmt: str) -> ExportRows:
    return approvals_export(actor=actor, fmt=fmt)


def _rewards_rows(p: Params, actor, fmt: str) -> ExportRows:
    return rewards_export(actor=actor, fmt=fmt, **reward_filters_parse(p))


def _earn_rules_rows(p: Params, actor, fmt: str) -> ExportRows:
    return earn_rules_export(actor=actor, fmt=fmt, active=earn_rule_active_param(p))


def _tiers_rows(p: Params, actor, fmt: str) -> ExportRows:
    return tiers_export(actor=actor, fmt=fmt)


def _campaigns_rows(p: Params, actor, fmt: str) -> ExportRows:
    return campaigns_export(actor=actor, fmt=fmt, **campaign_filters_parse(p))


def _segments_rows(p: Params, actor, fmt: str) -> ExportRows:
    return segments_export(actor=actor, fmt=fmt)


LIST_SOURCES: dict[str, dict] = {
    "ledger": {
        "title": _("Points ledger"),
        "basename": "points-ledger",
        "permissions": ("loyalty.view_ledgerverification",),
        "keys": LEDGER_KEYS,
        "rows": _ledger_rows,
        "size": _ledger_size,
    },
    "redemptions": {
        "title": _("Redemptions"),
        "basename": "redemptions",
        "permissions": ("loyalty.fulfil_redemption",),
        "keys": ("status",),
        "rows": _redemptions_rows,
        "size": _redemptions_size,
    },
    "approvals": {
        "title": _("Adjustments to approve"),
        "basename": "adjustments-to-approve",
        "permissions": ("loyalty.approve_adjustment",),
        "keys": (),
        "rows": _approvals_rows,
        "size": None,
    },
    "rewards": {
        "title": _("Rewards"),
        "basename": "rewards",
        "permissions": ("loyalty.view_reward",),
        "keys": ("q", "kind"),
        "rows": _rewards_rows,
        "size": None,
    },
    "earn_rules": {
        "title": _("Earn rules"),
        "basename": "earn-rules",
        "permissions": ("loyalty.view_earnrule",),
        "keys": ("active",),
        "rows": _earn_rules_rows,
        "size": None,
    },
    "tiers": {
        "title": _("Tiers"),
        "basename": "tiers",
        "permissions": ("loyalty.view_tier",),
        "keys": (),
        "rows": _tiers_rows,
        "size": None,
    },
    "campaigns": {
        "title": _("Campaigns"),
        "basename": "campaigns",
        "permissions": ("campaigns.view_campaign",),
        "keys": ("kind", "status"),
        "rows": _campaigns_rows,
        "size": None,
    },
    "segments": {
        "title": _("Segments"),
        "basename": "segments",
        "permissions": ("analytics.view_segment",),
        "keys": (),
        "rows": _segments_rows,
        "size": None,
    },
}

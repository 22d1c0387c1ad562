"""How the lists with an export read their filters from the query string: one function per list,
shared by the list's page and its export (``export_sources_lists``), so the file holds exactly
the rows the page shows. Anything unknown reads as the page's default."""

from collections.abc import Mapping

from apps.campaigns.enums import CampaignKind, CampaignStatus
from apps.loyalty.enums import RedemptionStatus, RewardKind

Params = Mapping[str, str]


def redemption_status_param(params: Params) -> str:
    """The fulfilment queue's status tab: waiting redemptions unless another status is asked."""
    status = params.get("status", RedemptionStatus.REQUESTED)
    return status if status in RedemptionStatus.values else RedemptionStatus.REQUESTED


def reward_filters_parse(params: Params) -> dict[str, str]:
    """The reward catalogue's search (name or code) and kind."""
    kind = params.get("kind", "")
    return {
        "query": params.get("q", "").strip()[:100],
        "kind": kind if kind in RewardKind.values else "",
    }


def earn_rule_active_param(params: Params) -> str:
    """The earn rules' status filter: "yes", "no" or "" (all)."""
    active = params.get("active", "")
    return active if active in ("yes", "no") else ""


def campaign_filters_parse(params: Params) -> dict[str, str]:
    """The campaign list's kind tab and status."""
    kind, status = params.get("kind", ""), params.get("status", "")
    return {
        "kind": kind if kind in CampaignKind.values else "",
        "status": status if status in CampaignStatus.values else "",
    }

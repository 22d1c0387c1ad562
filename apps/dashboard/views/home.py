"""The staff landing page, by role (issue 14). One URL, one view: the user's role (the highest
of their role groups, ``user_role``) chooses which sections the page offers, and each section
shows only when the user holds the permissions its data needs.

- Support agent: their open tickets against the SLA clocks, and the queue's counts.
- Marketing: live campaigns with their progress, and segment sizes.
- Manager: headline KPIs from the daily snapshot, what waits for approval, the members overview.
- Administrator: the manager's page and the administration links.

Anyone else with customer rights gets the members overview (what the page showed before). A
ledger fault shows on top for whoever may see the ledger checks, whatever the role. Every
section reads through domain selectors in a fixed number of queries, however many rows."""

import datetime as dt

from django.utils import timezone
from django.views.generic import TemplateView

from apps.accounts.roles import (
    ADMINISTRATOR,
    MANAGER,
    MARKETING,
    ROLE_LABELS,
    SUPPORT_AGENT,
    is_administrator,
    user_role,
)
from apps.analytics.kpi_board import kpi_headline
from apps.analytics.kpi_format import kpi_change_text, kpi_display
from apps.analytics.kpis import Window
from apps.analytics.selectors import segment_list_largest, segment_list_recently_counted
from apps.campaigns.selectors import (
    campaign_list_live,
    campaign_live_counts,
    campaign_message_counts,
)
from apps.complaints.staff_selectors import agent_desk, compensations_pending_oldest
from apps.customers.selectors import customer_list_recent, customer_summary
from apps.loyalty.staff_selectors import (
    adjustments_pending_oldest,
    ledger_verification_latest,
    ledger_verification_stale,
)

from .campaigns import progress
from .mixins import StaffRequiredMixin

RECENT_CUSTOMERS = 10
QUEUE_ROWS = 10
LIVE_CAMPAIGNS = 8
SEGMENT_ROWS = 5
APPROVAL_ROWS = 5
HEADLINE_KPIS = (
    "active_members",
    "repeat_rate",
    "retention_rate",
    "revenue",
    "nps",
    "retention_roi",
)

MANAGER_SECTIONS = ("kpis", "approvals", "overview")
SECTIONS = {
    SUPPORT_AGENT: ("queue",),
    MARKETING: ("campaigns", "segments"),
    MANAGER: MANAGER_SECTIONS,
    ADMINISTRATOR: (*MANAGER_SECTIONS, "admin"),
    "": ("overview",),
}


def _may(user, section: str) -> bool:
    """Whether ``user`` may see a section's data."""
    if section == "queue":
        return user.has_perms(("complaints.view_ticket", "complaints.work_ticket"))
    if section == "campaigns":
        return user.has_perm("campaigns.view_campaign")
    if section == "segments":
        return user.has_perm("analytics.view_segment")
    if section == "kpis":
        return user.has_perm("analytics.view_kpisnapshot")
    if section == "approvals":
        return user.has_perm("loyalty.approve_adjustment") or user.has_perms(
            ("complaints.view_ticket", "complaints.approve_compensation")
        )
    if section == "admin":
        return is_administrator(user)
    if section == "overview":
        return user.has_perm("customers.view_customer")
    return False


def _kpis() -> dict:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    board = kpi_headline(day=yesterday, keys=HEADLINE_KPIS)
    if board is None:
        return {"kpi_cards": []}
    cards = [
        {
            "kpi": card.kpi,
            "value": kpi_display(card.value, card.kpi.unit),
            "previous": kpi_display(card.previous, card.kpi.unit),
            "vs_previous": card.vs_previous,
            "vs_previous_text": kpi_change_text(card.vs_previous),
        }
        for card in board.cards
    ]
    return {
        "kpi_cards": cards,
        "kpi_day": board.day,
        "kpi_first_day": Window(board.day, board.window).first_day,
    }


def _approvals(user) -> dict:
    out = {}
    if user.has_perm("loyalty.approve_adjustment"):
        out["adjustments"], out["adjustments_waiting"] = adjustments_pending_oldest(
            limit=APPROVAL_ROWS
        )
    if user.has_perms(("complaints.view_ticket", "complaints.approve_compensation")):
        out["compensations"], out["compensations_waiting"] = compensations_pending_oldest(
            limit=APPROVAL_ROWS
        )
    return out


def _campaigns() -> dict:
    campaigns = campaign_list_live(limit=LIVE_CAMPAIGNS)
    counts = campaign_message_counts(campaign_ids=[c.pk for c in campaigns])
    return {
        "campaign_counts": campaign_live_counts(),
        "live_campaigns": [(c, progress(c, counts[c.pk])) for c in campaigns],
    }


class HomeView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, now = self.request.user, timezone.now()
        role = user_role(user)
        sections = [s for s in SECTIONS.get(role, SECTIONS[""]) if _may(user, s)]
        context.update(role=role, role_label=ROLE_LABELS.get(role, ""), sections=sections)
        if user.has_perm("loyalty.view_ledgerverification"):
            # Clientele has no staff inbox: a ledger fault shows here until a run passes again.
            latest = ledger_verification_latest()
            context["ledger_fault"] = latest if latest is not None and not latest.ok else None
            context["ledger_stale"] = "admin" in sections and ledger_verification_stale(latest)
        if "queue" in sections:
            context["desk"] = agent_desk(user=user, now=now, limit=QUEUE_ROWS)
        if "campaigns" in sections:
            context.update(_campaigns())
        if "segments" in sections:
            context["segments_largest"] = segment_list_largest(limit=SEGMENT_ROWS)
            context["segments_recent"] = segment_list_recently_counted(limit=SEGMENT_ROWS)
        if "kpis" in sections:
            context.update(_kpis())
        if "approvals" in sections:
            context.update(_approvals(user))
        if "overview" in sections:
            context["summary"] = customer_summary(days=30)
            context["recent_customers"] = customer_list_recent(limit=RECENT_CUSTOMERS)
        context["now"] = now
        return context

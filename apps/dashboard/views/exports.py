"""My exports: a staff member's past exports (Administrators may see everyone's), read from the
audit trail (every export has its audit event: who, when, what, filters, format, rows), with a
"download again" link that runs the same export with the same filters through its own view —
which checks the permission again and writes a new audit event. Nothing an export held is kept
anywhere; running it again reads today's data."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from apps.accounts.roles import is_administrator
from apps.campaigns.enums import CampaignKind, CampaignStatus
from apps.core.audit import action_label, actor_display, export_history, target_type_label
from apps.core.export_jobs import export_job_downloadable, export_jobs_for
from apps.core.exports import yes_no
from apps.core.models import AuditEvent
from apps.customers.enums import Source
from apps.customers.selectors import customer_member_numbers
from apps.loyalty.enums import RedemptionStatus, RewardKind, TxKind

from ..export_sources import SOURCES
from ._helpers import paginate
from .mixins import StaffRequiredMixin

# The newest background exports shown above the history (running ones and links that last).
JOBS_SHOWN = 5

# Who may start each export again: the permissions of its view.
EXPORT_PERMISSIONS = {
    "export.customers": ("customers.export_customer",),
    "export.orders": ("customers.export_order",),
    "export.audit": ("core.view_auditevent",),
    "export.liability": ("loyalty.view_liability",),
    "export.coupons": ("loyalty.view_couponbatch", "loyalty.add_couponbatch"),
    "customer.export": ("customers.export_customer",),
    "export.ledger": ("loyalty.view_ledgerverification",),
    "export.redemptions": ("loyalty.fulfil_redemption",),
    "export.approvals": ("loyalty.approve_adjustment",),
    "export.rewards": ("loyalty.view_reward",),
    "export.earn_rules": ("loyalty.view_earnrule",),
    "export.tiers": ("loyalty.view_tier",),
    "export.campaigns": ("campaigns.view_campaign",),
    "export.segments": ("analytics.view_segment",),
}

FILTER_LABELS = {
    "q": _("Search"),
    "tag": _("Tag"),
    "store": _("Store"),
    "source": _("Source"),
    "portal": _("Portal account"),
    "sort": _("Order"),
    "months": _("Months"),
    "actor": _("Actor"),
    "action": _("Action"),
    "target_type": _("Target type"),
    "target_id": _("Target id"),
    "date_from": _("From"),
    "date_to": _("To"),
    "member": _("Member"),
    "batch": _("Coupon batch"),
    "survey": _("Survey"),
    "since": _("From"),
    "until": _("To"),
    "by": _("Trend by"),
    "kind": _("Kind"),
    "status": _("Status"),
    "active": _("Active"),
}
# The lists' kind and status filters (their codes do not clash across lists).
CHOICE_LABELS = {
    "kind": dict([*RewardKind.choices, *TxKind.choices, *CampaignKind.choices]),
    "status": dict([*RedemptionStatus.choices, *CampaignStatus.choices]),
}
SORT_LABELS = {
    "joined": _("Joined, oldest first"),
    "-joined": _("Joined, newest first"),
    "name": _("Name, A to Z"),
    "-name": _("Name, Z to A"),
    "member": _("Member number, ascending"),
    "-member": _("Member number, descending"),
}


# Holding any of these, a user can start some export (the layout's nav link asks the same).
EXPORT_START_PERMISSIONS = (
    "customers.export_customer",
    "customers.export_order",
    "core.view_auditevent",
    "loyalty.view_liability",
    "loyalty.add_couponbatch",
)


def can_export(user) -> bool:
    return user.is_staff and any(user.has_perm(p) for p in EXPORT_START_PERMISSIONS)


@dataclass
class PastExport:
    event: AuditEvent
    label: str
    actor_name: str
    actor_email: str
    filters: list[tuple[str, str]]
    rows: int | None
    fmt: str
    truncated: bool
    admin: bool
    again_url: str


def _filter_order(item: tuple[str, str]) -> tuple[int, str]:
    # Stored as JSON (which keeps no order): shown in the order of the list's own form.
    order = list(FILTER_LABELS)
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


def _filter_value(key: str, value) -> str:
    if key == "source":
        return str(Source(value).label) if value in Source.values else str(value)
    if key in ("portal", "active"):
        return yes_no(value == "yes") if value in ("yes", "no") else str(value)
    if key in CHOICE_LABELS:
        return str(CHOICE_LABELS[key].get(value, value))
    if key == "sort":
        return str(SORT_LABELS.get(value, value))
    if key == "action":
        return action_label(str(value))
    if key == "target_type":
        return target_type_label(str(value))
    return str(value)


def _filters(event: AuditEvent, member_number: str) -> dict[str, str]:
    """The filters the export ran with, as its view reads them from the query string."""
    after = event.after or {}
    if event.action == "export.liability":
        return {"months": str(after["months"])} if after.get("months") else {}
    if event.action == "export.coupons":
        return {"batch": event.target_id}
    if event.action == "customer.export":
        return {"member": member_number}
    return {k: str(v) for k, v in (after.get("filters") or {}).items() if v}


def _again_url(event: AuditEvent, filters: dict[str, str], fmt: str, user) -> str:
    """The same export with the same filters, or "" where it cannot run again here (an admin
    export, a record without what it needs, an export the user may not start)."""
    permissions = EXPORT_PERMISSIONS.get(event.action)
    if not permissions or not user.has_perms(permissions):
        return ""
    if event.action == "customer.export":
        member = filters.get("member")
        return reverse("dashboard:customer-privacy-export", args=[member]) if member else ""
    if fmt not in ("csv", "xlsx"):
        return ""
    if event.action == "export.liability":
        query = urlencode(filters)
        url = reverse("dashboard:loyalty-liability-export", args=[fmt])
        return f"{url}?{query}" if query else url
    if event.action == "export.coupons":
        batch = filters.get("batch", "")
        return reverse("dashboard:loyalty-coupon-export", args=[batch, fmt]) if batch else ""
    name = {
        "export.customers": "dashboard:customer-export",
        "export.orders": "dashboard:order-export",
        "export.audit": "dashboard:audit-export",
        "export.ledger": "dashboard:loyalty-ledger-export",
        "export.redemptions": "dashboard:loyalty-redemption-export",
        "export.approvals": "dashboard:loyalty-approval-export",
        "export.rewards": "dashboard:loyalty-reward-export",
        "export.earn_rules": "dashboard:loyalty-rule-export",
        "export.tiers": "dashboard:loyalty-tier-export",
        "export.campaigns": "dashboard:campaign-list-export",
        "export.segments": "dashboard:segment-list-export",
    }[event.action]
    return f"{reverse(name)}?{urlencode({'format': fmt, **filters})}"


def past_exports(events: list[AuditEvent], user) -> list[PastExport]:
    """The page's rows: one query for the member numbers of personal-data exports."""
    customer_ids = {
        int(e.target_id) for e in events if e.action == "customer.export" and e.target_id.isdigit()
    }
    numbers = customer_member_numbers(ids=customer_ids) if customer_ids else {}
    rows = []
    for event in events:
        after = event.after or {}
        admin = after.get("source") == "admin"
        fmt = "zip" if event.action == "customer.export" else str(after.get("format", ""))
        member = numbers.get(int(event.target_id), "") if event.target_id.isdigit() else ""
        filters = _filters(event, member)
        name, email = actor_display(event)
        rows.append(
            PastExport(
                event=event,
                label=action_label(event.action),
                actor_name=name,
                actor_email=email,
                filters=[
                    (str(FILTER_LABELS.get(k, k)), _filter_value(k, v))
                    for k, v in sorted(filters.items(), key=_filter_order)
                ],
                rows=after.get("rows"),
                fmt=fmt.upper(),
                truncated=bool(after.get("truncated")),
                admin=admin,
                again_url="" if admin else _again_url(event, filters, fmt.lower(), user),
            )
        )
    return rows


class ExportHistoryView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard/data/exports.html"

    def has_permission(self) -> bool:
        return can_export(self.request.user)

    def get_context_data(self, **kwargs):
        user = self.request.user
        may_see_all = is_administrator(user)
        everyone = may_see_all and self.request.GET.get("scope") == "all"
        page_obj = paginate(export_history(actor_id=None if everyone else user.pk), self.request)
        jobs = [] if everyone else export_jobs_for(user=user, limit=JOBS_SHOWN)
        for job in jobs:
            source = SOURCES.get(job.kind)
            job.title = source.title if source is not None else job.kind
            job.downloadable = export_job_downloadable(job=job, user=user)
        return super().get_context_data(
            jobs=jobs,
            page_obj=page_obj,
            rows=past_exports(list(page_obj.object_list), user),
            everyone=everyone,
            may_see_all=may_see_all,
            **kwargs,
        )

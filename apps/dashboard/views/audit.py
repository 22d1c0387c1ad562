"""The audit trail, readable (Managers and Administrators: ``core.view_auditevent``): every
AuditEvent with filters, keyset pages, the before/after of each change as a diff, one event's
page, and the filtered list as an audited CSV / Excel export."""

from dataclasses import dataclass

from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from apps.accounts.selectors import staff_list
from apps.core.audit import (
    AuditPage,
    DiffRow,
    action_label,
    actor_display,
    audit_diff,
    audit_get,
    audit_page,
    distinct_target_ids,
    pretty_json,
    target_type_label,
)
from apps.core.models import AuditEvent
from apps.customers.selectors import customer_member_numbers
from apps.loyalty.staff_selectors import account_member_numbers

from ..forms_audit import AuditFilterForm
from ._helpers import PartialResultsMixin
from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin

AUDIT_PERMISSION = "core.view_auditevent"

# Targets whose page is addressed by their own id: type -> (URL name, permission to open it).
PK_LINKS = {
    "loyalty.earnrule": ("dashboard:loyalty-rule-edit", "loyalty.change_earnrule"),
    "loyalty.tier": ("dashboard:loyalty-tier-edit", "loyalty.change_tier"),
    "loyalty.reward": ("dashboard:loyalty-reward-edit", "loyalty.change_reward"),
    "loyalty.couponbatch": ("dashboard:loyalty-coupon-batch", "loyalty.view_couponbatch"),
}
CUSTOMER = "customers.customer"
ACCOUNT = "loyalty.loyaltyaccount"


@dataclass
class AuditRow:
    """One event as the page shows it."""

    event: AuditEvent
    actor_name: str
    actor_email: str
    action_label: str
    target_label: str
    target_url: str
    target_filter_url: str
    detail_url: str
    diff: list[DiffRow]

    @property
    def diff_label(self) -> str:
        n = len(self.diff)
        return ngettext("%(counter)s change", "%(counter)s changes", n) % {"counter": n}


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # an area not built yet
        return ""


def _target_links(events: list[AuditEvent], user) -> dict[tuple[str, str], str]:
    """Links to the targets' pages the user may open: one query per linked type that occurs."""
    links: dict[tuple[str, str], str] = {}
    if user.has_perm("customers.view_customer"):
        if ids := distinct_target_ids(events, CUSTOMER):
            for pk, number in customer_member_numbers(ids=ids).items():
                links[(CUSTOMER, str(pk))] = _url("dashboard:customer-detail", number)
        if user.has_perm("loyalty.view_loyaltyaccount") and (
            ids := distinct_target_ids(events, ACCOUNT)
        ):
            for pk, number in account_member_numbers(ids=ids).items():
                links[(ACCOUNT, str(pk))] = _url("dashboard:loyalty-customer", number)
    for target_type, (name, permission) in PK_LINKS.items():
        if user.has_perm(permission):
            for pk in distinct_target_ids(events, target_type):
                links[(target_type, str(pk))] = _url(name, pk)
    return links


def audit_rows(events: list[AuditEvent], user) -> list[AuditRow]:
    links = _target_links(events, user)
    list_url = reverse("dashboard:audit-list")
    rows = []
    for event in events:
        name, email = actor_display(event)
        rows.append(
            AuditRow(
                event=event,
                actor_name=name,
                actor_email=email,
                action_label=action_label(event.action),
                target_label=target_type_label(event.target_type) if event.target_type else "",
                target_url=links.get((event.target_type, event.target_id), ""),
                target_filter_url=list_url
                + "?"
                + urlencode({"target_type": event.target_type, "target_id": event.target_id}),
                detail_url=reverse("dashboard:audit-detail", args=[event.pk]),
                diff=audit_diff(event.before, event.after, target_type=event.target_type),
            )
        )
    return rows


class AuditListView(StaffRequiredMixin, PartialResultsMixin, TemplateView):
    permission_required = AUDIT_PERMISSION
    template_name = "dashboard/audit/list.html"
    partial_template_name = "dashboard/audit/_results.html"
    results_id = "audit-results"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = AuditFilterForm(self.request.GET)
        if form.is_valid():
            page = audit_page(
                filters=form.filters(),
                older_than=self.request.GET.get("older", ""),
                newer_than=self.request.GET.get("newer", ""),
            )
        else:
            page = AuditPage()  # a filter we cannot apply shows nothing rather than everything
        context.update(
            form=form,
            page=page,
            rows=audit_rows(page.events, self.request.user),
            filtered=any(form.data.get(name) for name in form.fields),
            staff=list(staff_list().values_list("email", flat=True)),
            results_id=self.results_id,
        )
        return context

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response


class AuditDetailView(StaffRequiredMixin, TemplateView):
    permission_required = AUDIT_PERMISSION
    template_name = "dashboard/audit/detail.html"

    def get_context_data(self, **kwargs):
        try:
            event = audit_get(pk=self.kwargs["pk"])
        except AuditEvent.DoesNotExist:
            raise Http404 from None
        return super().get_context_data(
            row=audit_rows([event], self.request.user)[0],
            before_json=pretty_json(event.before),
            after_json=pretty_json(event.after),
            **kwargs,
        )


class AuditExportView(SourceExportView):
    """The filtered list as CSV or Excel; ``audit_export`` writes its audit row."""

    kind = "audit"

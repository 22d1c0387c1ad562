"""Staff loyalty pages about members and money: points adjustment (with approval above the
programme's limit), the approvals queue, the loyalty panel of the 360° page, the liability &
breakage report and the ledger verification runs. Views validate, call a selector or service,
and render."""

import datetime as dt

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.core.exports import csv_response, xlsx_response
from apps.customers.exceptions import CustomerNotFound
from apps.customers.models import Customer
from apps.customers.selectors import customer_get
from apps.loyalty.describe import Target
from apps.loyalty.enums import AdjustmentStatus
from apps.loyalty.exports import liability_export
from apps.loyalty.models import PointsAdjustment, Programme
from apps.loyalty.selectors import liability_report, points_summary
from apps.loyalty.services import adjustment_decide, points_adjust
from apps.loyalty.staff_selectors import (
    adjustments_pending_for_staff,
    ledger_verification_latest,
    ledger_verification_list,
    ledger_verification_stale,
    liability_monthly,
    loyalty_panel,
    points_by_tier,
)

from ..forms_ledger import LedgerFilterForm
from ..forms_loyalty import AdjustmentDecideForm, PeriodForm, PointsAdjustForm
from ._helpers import paginate
from .export_jobs import SourceExportView
from .form_page import FormPageView
from .mixins import StaffRequiredMixin


def customer_or_404(member_number: str) -> Customer:
    try:
        return customer_get(member_number=member_number)
    except CustomerNotFound as exc:
        raise Http404(exc.message) from exc


def loyalty_panel_context(customer: Customer, user, *, ledger_rows: int = 50) -> dict:
    """The context of ``dashboard/loyalty/_customer_panel.html`` for the 360° page: one call,
    a fixed number of queries. ``loyalty_ledger`` pairs each described ledger row (the newest
    ``ledger_rows``) with its link for ``user`` (none where they may not follow it)."""
    panel = loyalty_panel(customer=customer, ledger_rows=ledger_rows)
    page = reverse("dashboard:loyalty-customer", args=[customer.member_number])
    listed = {r.pk for r in panel.redemptions}
    may_see_orders = user.has_perm("customers.view_order")

    def link(target: Target | None) -> str:
        if target is None:
            return ""
        if target.kind == "order" and may_see_orders:
            query = urlencode({"q": target.number, "store": target.store})
            return f"{reverse('dashboard:order-list')}?{query}"
        if target.kind == "redemption" and target.pk in listed:
            return f"{page}#redemption-{target.pk}"
        if target.kind == "badge":
            return f"{page}#badge-{target.pk}"
        return ""

    return {
        "loyalty": panel,
        "loyalty_ledger": [{"line": line, "url": link(line.target)} for line in panel.ledger],
    }


class CustomerLoyaltyView(StaffRequiredMixin, TemplateView):
    """The loyalty panel on its own page (linked from the 360° page and the approvals queue)."""

    permission_required = ("customers.view_customer", "loyalty.view_loyaltyaccount")
    template_name = "dashboard/loyalty/customer.html"

    def get_context_data(self, **kwargs):
        customer = customer_or_404(self.kwargs["member_number"])
        return super().get_context_data(
            customer=customer, **loyalty_panel_context(customer, self.request.user), **kwargs
        )


class PointsAdjustView(FormPageView):
    permission_required = ("customers.view_customer", "loyalty.adjust_points")
    form_class = PointsAdjustForm
    template_name = "dashboard/loyalty/adjust.html"
    submit_label = gettext_lazy("Adjust points")

    @cached_property
    def customer(self) -> Customer:
        return customer_or_404(self.kwargs["member_number"])

    @property
    def title(self):
        return _("Adjust points of %(name)s") % {"name": self.customer.display_name}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            customer=self.customer,
            summary=points_summary(customer=self.customer),
            limit=Programme.get().adjustment_limit,
            **kwargs,
        )

    def save(self, form):
        adjustment = points_adjust(
            customer=self.customer,
            points=form.cleaned_data["points"],
            reason=form.cleaned_data["reason"],
            actor=self.request.user,
        )
        if adjustment.status == AdjustmentStatus.PENDING:
            self.success_message = _(
                "Above the limit: the adjustment waits for a manager's approval."
            )
        else:
            self.success_message = _("Points adjusted.")

    def get_success_url(self):
        return reverse(
            "dashboard:loyalty-customer", kwargs={"member_number": self.customer.member_number}
        )


class AdjustmentQueueView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.approve_adjustment"
    template_name = "dashboard/loyalty/approvals.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            page_obj=paginate(adjustments_pending_for_staff(), self.request), **kwargs
        )


class AdjustmentExportView(SourceExportView):
    kind = "approvals"


class AdjustmentDecideView(StaffRequiredMixin, View):
    permission_required = "loyalty.approve_adjustment"

    def post(self, request, pk):
        adjustment = get_object_or_404(
            PointsAdjustment.objects.select_related("account__customer"), pk=pk
        )
        form = AdjustmentDecideForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose approve or reject."))
            return redirect("dashboard:loyalty-approval-list")
        approve = form.cleaned_data["decision"] == "approve"
        try:
            adjustment_decide(adjustment=adjustment, approve=approve, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            name = adjustment.account.customer.display_name
            if approve:
                messages.success(
                    request, _("Approved: %(name)s's points changed.") % {"name": name}
                )
            else:
                messages.success(
                    request, _("Rejected: nothing changed for %(name)s.") % {"name": name}
                )
        return redirect("dashboard:loyalty-approval-list")


# --- liability & breakage ----------------------------------------------------------------------


def _period(request) -> tuple[int, dt.datetime]:
    form = PeriodForm(request.GET)
    months = (form.cleaned_data.get("months") if form.is_valid() else None) or 12
    start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    index = start.year * 12 + start.month - 1 - (months - 1)
    return months, start.replace(year=index // 12, month=index % 12 + 1)


class LiabilityView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_liability"
    template_name = "dashboard/loyalty/liability.html"

    def get_context_data(self, **kwargs):
        months, since = _period(self.request)
        series = liability_monthly(since=since)
        chart = {
            "labels": [row.month.strftime("%Y-%m") for row in series],
            "datasets": [
                {"label": _("Issued"), "data": [row.issued for row in series]},
                {"label": _("Redeemed"), "data": [row.redeemed for row in series]},
                {"label": _("Expired"), "data": [row.expired for row in series]},
            ],
        }
        report = liability_report(since=since)
        return super().get_context_data(
            months=months,
            since=since,
            breakage_percent=report.breakage_rate * 100,
            period_form=PeriodForm(initial={"months": months}),
            periods=PeriodForm.PERIODS,
            report=report,
            total=liability_report(),
            programme=Programme.get(),
            series=series,
            by_tier=points_by_tier(),
            chart=chart,
            **kwargs,
        )


class LiabilityExportView(StaffRequiredMixin, View):
    """Monthly issued / redeemed / expired and the totals, CSV or XLSX; audited."""

    permission_required = "loyalty.view_liability"

    def get(self, request, fmt):
        if fmt not in ("csv", "xlsx"):
            raise Http404
        months, since = _period(request)
        filename = f"points-liability-{timezone.localdate():%Y%m%d}"

        def write(header, rows):
            if fmt == "csv":
                return csv_response(filename=filename, header=header, rows=rows)
            title = _("Points liability")
            return xlsx_response(filename=filename, title=title, header=header, rows=rows)

        return liability_export(
            actor=request.user, months=months, since=since, fmt=fmt, write=write
        )


# --- ledger verification -----------------------------------------------------------------------


class LedgerVerificationView(StaffRequiredMixin, TemplateView):
    """The last verification's time and result, its faults, and every run before it."""

    permission_required = "loyalty.view_ledgerverification"
    template_name = "dashboard/loyalty/ledger.html"

    def get_context_data(self, **kwargs):
        latest = ledger_verification_latest()
        return super().get_context_data(
            latest=latest,
            stale=ledger_verification_stale(latest),
            page_obj=paginate(ledger_verification_list(), self.request),
            ledger_form=LedgerFilterForm(self.request.GET or None),
            **kwargs,
        )


class LedgerExportView(SourceExportView):
    """The points ledger itself, under the filters of the page's export form."""

    kind = "ledger"

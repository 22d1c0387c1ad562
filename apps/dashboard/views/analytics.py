"""Customer value pages: the weekly at-risk list (/staff/analytics/at-risk/) with assignment
and export, and the model page (/staff/analytics/model/): what the models use, when they were
fitted, how well the churn model does against BG/NBD, and their parameters."""

import datetime as dt

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.analytics.enums import ChurnBand, RFMSegment
from apps.analytics.exports import at_risk_export
from apps.analytics.models import AnalyticsSettings, AtRiskEntry
from apps.analytics.selectors import (
    at_risk_list,
    at_risk_returns,
    at_risk_weeks,
    fit_latest,
    metrics_distribution,
)
from apps.analytics.services.at_risk import at_risk_assign, week_of
from apps.analytics.stats.churn import ChurnModel
from apps.analytics.wording import reasons_text
from apps.core.exceptions import ApplicationError
from apps.core.exports import csv_response, xlsx_response

from ..forms_segments import AssignForm
from .mixins import StaffRequiredMixin

FEATURE_LABELS = {
    "log_expected_purchases": gettext_lazy("BG/NBD expected purchases (log)"),
    "log_frequency": gettext_lazy("Repeat purchase days (log)"),
    "log_recency": gettext_lazy("Weeks from first to last purchase (log)"),
    "weeks_since_last_purchase": gettext_lazy("Weeks since the last purchase"),
    "log_monetary": gettext_lazy("Mean repeat spend (log)"),
}


def _week(request, weeks: list[dt.date]) -> dt.date:
    raw = request.GET.get("week", "")
    try:
        return (
            week_of(dt.date.fromisoformat(raw))
            if raw
            else (weeks[0] if weeks else week_of(timezone.localdate()))
        )
    except ValueError:
        return weeks[0] if weeks else week_of(timezone.localdate())


class AtRiskView(StaffRequiredMixin, TemplateView):
    permission_required = "analytics.view_atriskentry"
    template_name = "dashboard/analytics/at_risk.html"

    def get_context_data(self, **kwargs):
        weeks = at_risk_weeks()
        week = _week(self.request, weeks)
        entries = list(at_risk_list(week=week))
        for entry in entries:
            entry.reason_lines = reasons_text(entry.reasons)
        earlier = [w for w in weeks if w < week][:6]
        # The staff who can take one, read once for every row's picker.
        assignees = (
            list(AssignForm().fields["assignee"].choices)[1:]
            if self.request.user.has_perm("analytics.change_atriskentry")
            and any(e.assigned_to_id is None for e in entries)
            else []
        )
        returns = at_risk_returns(weeks=earlier)
        return super().get_context_data(
            week=week,
            weeks=weeks,
            entries=entries,
            came_back=sum(1 for e in entries if e.came_back),
            returns=[(w, *returns[w]) for w in earlier],
            assignees=assignees,
            settings=AnalyticsSettings.get(),
            **kwargs,
        )


class AtRiskAssignView(StaffRequiredMixin, View):
    permission_required = "analytics.change_atriskentry"

    def post(self, request, pk):
        entry = AtRiskEntry.objects.select_related("customer").filter(pk=pk).first()
        if entry is None:
            raise Http404
        form = AssignForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose someone to assign."))
        else:
            try:
                at_risk_assign(
                    entry=entry, assignee=form.cleaned_data["assignee"], actor=request.user
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    _("%(customer)s assigned to %(name)s.")
                    % {
                        "customer": entry.customer.display_name,
                        "name": form.cleaned_data["assignee"].display_name,
                    },
                )
        return redirect(reverse("dashboard:at-risk") + f"?week={entry.week.isoformat()}")


class AtRiskExportView(StaffRequiredMixin, View):
    permission_required = "analytics.view_atriskentry"

    def get(self, request):
        weeks = at_risk_weeks()
        week = _week(request, weeks)
        fmt = request.GET.get("format", "csv")
        fmt = fmt if fmt in ("csv", "xlsx") else "csv"
        entries = list(at_risk_list(week=week))
        header, rows = at_risk_export(entries=entries, week=week, actor=request.user, fmt=fmt)
        filename = f"at-risk-{week:%Y%m%d}"
        if fmt == "csv":
            return csv_response(filename=filename, header=header, rows=rows)
        return xlsx_response(filename=filename, title=_("At risk"), header=header, rows=rows)


class ModelView(StaffRequiredMixin, TemplateView):
    permission_required = "analytics.view_modelfit"
    template_name = "dashboard/analytics/model.html"

    def get_context_data(self, **kwargs):
        fit = fit_latest()
        churn = None
        if fit is not None and fit.churn and "auc" in fit.churn:
            churn = ChurnModel.from_json(fit.churn)
        counts = metrics_distribution()
        return super().get_context_data(
            fit=fit,
            churn=churn,
            coefficients=[
                (FEATURE_LABELS.get(name, name), value)
                for name, value in (churn.coefficient_table() if churn else [])
            ],
            folds=list(zip(churn.auc_folds, churn.baseline_auc_folds, strict=True))
            if churn
            else [],
            refused=(fit.churn or {}).get("refused", "") if fit else "",
            settings=AnalyticsSettings.get(),
            segments=[
                (label, counts["segments"].get(code, 0)) for code, label in RFMSegment.choices
            ],
            bands=[(label, counts["bands"].get(code, 0)) for code, label in ChurnBand.choices],
            **kwargs,
        )

"""Complaint reports (/staff/tickets/reports/): the tables of ``apps.complaints.reports`` for a
period, two charts, and each table as CSV or Excel (audited)."""

import datetime as dt

from django import forms
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from apps.complaints.exports import report_export
from apps.complaints.reports import DIMENSIONS, report_table, report_tables, sla_compliance
from apps.core.exports import csv_response, xlsx_response

from .mixins import StaffRequiredMixin

PERMS = ("complaints.view_ticket", "complaints.view_complaint_reports")
FORMATS = ("csv", "xlsx")
DEFAULT_DAYS = 90


class ReportPeriodForm(forms.Form):
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    by = forms.ChoiceField(label=_("SLA by"), choices=list(DIMENSIONS.items()), required=False)


def _period(request) -> tuple[ReportPeriodForm, dt.date, dt.date, str]:
    form = ReportPeriodForm(request.GET or None)
    today = timezone.localdate()
    data = form.cleaned_data if form.is_valid() else {}
    until = data.get("until") or today
    since = data.get("since") or until - dt.timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        since, until = until, since
    return form, since, until, data.get("by") or "team"


class TicketReportsView(StaffRequiredMixin, TemplateView):
    permission_required = PERMS
    template_name = "dashboard/tickets/reports.html"

    def get_context_data(self, **kwargs):
        form, since, until, by = _period(self.request)
        tables = report_tables(since=since, until=until, by=by)
        monthly = sla_compliance(since=since, until=until, by="month")
        roots = next(t for t in tables if t.key == "root-causes")
        return super().get_context_data(
            form=form,
            since=since,
            until=until,
            by=by,
            tables=tables,
            query=self.request.GET.urlencode(),
            sla_chart={
                "labels": [r[0] for r in monthly.rows],
                "datasets": [
                    {"label": str(monthly.header[2]), "data": [r[2] for r in monthly.rows]},
                    {"label": str(monthly.header[3]), "data": [r[3] for r in monthly.rows]},
                ],
            },
            roots_chart={
                "labels": [r[0] for r in roots.rows if r[1] == ""],
                "datasets": [
                    {
                        "label": str(roots.header[2]),
                        "data": [r[2] for r in roots.rows if r[1] == ""],
                    }
                ],
            },
            **kwargs,
        )


class TicketReportExportView(StaffRequiredMixin, View):
    permission_required = PERMS

    def get(self, request, table, fmt):
        if fmt not in FORMATS:
            raise Http404
        _form, since, until, _by = _period(request)
        found = report_table(table, since=since, until=until)
        if found is None:
            raise Http404
        filename = f"complaints-{found.key}-{since:%Y%m%d}-{until:%Y%m%d}"

        def write(header, rows):
            if fmt == "csv":
                return csv_response(filename=filename, header=header, rows=rows)
            return xlsx_response(filename=filename, title=found.title, header=header, rows=rows)

        return report_export(
            table=found,
            actor=request.user,
            fmt=fmt,
            filters={"since": since.isoformat(), "until": until.isoformat()},
            write=write,
        )

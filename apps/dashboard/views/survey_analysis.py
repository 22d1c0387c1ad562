"""A survey's analysis for staff: headline figures with their intervals, the invitation funnel,
distributions, the trend, breakdowns by tier / store / channel, key drivers, the text answers
and the exports. Every figure comes from ``apps.surveys.analysis`` in a fixed number of queries
whatever the number of responses; free text of identified members needs
``surveys.view_text_answers``."""

import datetime as dt

from django import forms
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.core.exports import csv_response, xlsx_response
from apps.surveys import analysis, stats
from apps.surveys.enums import Measure, ScoreGroup
from apps.surveys.exports import report_export, responses_export_rows
from apps.surveys.models import Survey
from apps.surveys.selectors import question_list

from ._helpers import paginate
from .mixins import StaffRequiredMixin

FORMATS = ("csv", "xlsx")


class PeriodForm(forms.Form):
    since = forms.DateField(label=gettext_lazy("From"), required=False)
    until = forms.DateField(label=gettext_lazy("To"), required=False)
    by = forms.ChoiceField(
        label=gettext_lazy("Trend by"),
        required=False,
        choices=[("week", gettext_lazy("Week")), ("month", gettext_lazy("Month"))],
    )


def _period(request) -> tuple[PeriodForm, dt.date | None, dt.date | None, str]:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return form, None, None, "week"
    data = form.cleaned_data
    return form, data.get("since"), data.get("until"), data.get("by") or "week"


def _filters(since, until) -> dict[str, str]:
    return {
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }


def _fmt(value) -> str:
    return "" if value is None else value


class SurveyAccessMixin(StaffRequiredMixin):
    permission_required = "surveys.view_survey"

    def survey(self) -> Survey:
        if not hasattr(self, "_survey"):
            self._survey = get_object_or_404(Survey, pk=self.kwargs["pk"])
        return self._survey


# --- the tables, shared by the page and the exports -------------------------------------------


def _figure_cells(f) -> list:
    return [
        f.n,
        _fmt(f.nps.value),
        _fmt(f.nps.low),
        _fmt(f.nps.high),
        _fmt(f.csat.value),
        _fmt(f.csat.low),
        _fmt(f.csat.high),
        _fmt(f.ces.value),
    ]


def _figure_header() -> list[str]:
    return [
        _("Responses"),
        _("NPS"),
        _("NPS low"),
        _("NPS high"),
        _("CSAT (%)"),
        _("CSAT low"),
        _("CSAT high"),
        _("CES"),
    ]


def report_table(survey: Survey, table: str, *, since, until, by) -> tuple[list[str], list[list]]:
    """(header, rows) of one of the page's tables, in the reader's language."""
    if table == "summary":
        summary = analysis.survey_summary(survey=survey, since=since, until=until)
        labels = {
            "responses": _("Responses"),
            "invited": _("Invited"),
            "nps": _("NPS"),
            "nps_ci_low": _("NPS, 95% interval low"),
            "nps_ci_high": _("NPS, 95% interval high"),
            "promoters": _("Promoters"),
            "passives": _("Passives"),
            "detractors": _("Detractors"),
            "csat": _("CSAT (%)"),
            "ces": _("CES"),
        }
        rows = [[labels[k], _fmt(v)] for k, v in summary.as_dict().items()]
        return [_("Figure"), _("Value")], rows
    if table == "funnel":
        funnel = analysis.survey_funnel(survey=survey, since=since, until=until)
        rows = [[step, n, _fmt(pct)] for step, n, pct in funnel.steps()]
        rows += [
            [_("Skipped: %(reason)s") % {"reason": label}, n, ""] for _c, label, n in funnel.skipped
        ]
        return [_("Step"), _("Invitations"), _("% of sent")], rows
    if table == "distribution":
        questions = question_list(survey=survey)
        rows = [
            [str(d.question.text), label, n]
            for d in analysis.survey_distributions(
                survey=survey, questions=questions, since=since, until=until
            )
            for _v, label, n in d.values
        ]
        return [_("Question"), _("Answer"), _("Count")], rows
    if table == "trend":
        trend = analysis.survey_trend(survey=survey, by=by, since=since, until=until)
        return [_("Period"), *_figure_header()], [
            [p.start, *_figure_cells(p.figures)] for p in trend
        ]
    if table in analysis.BREAKDOWNS:
        groups = analysis.survey_breakdown(survey=survey, dimension=table, since=since, until=until)
        return [_("Group"), *_figure_header()], [
            [g.label, *_figure_cells(g.figures)] for g in groups
        ]
    if table == "drivers":
        questions = question_list(survey=survey)
        drivers = analysis.survey_drivers(
            survey=survey, questions=questions, since=since, until=until
        )
        rows = [
            [
                d.label,
                _fmt(d.correlation.r),
                d.correlation.n,
                _fmt(None if d.correlation.p is None else round(d.correlation.p, 4)),
                _("Too few to say") if d.correlation.too_few else "",
            ]
            for d in drivers
        ]
        return [_("Item"), _("Correlation (r)"), _("n"), _("p-value"), _("Note")], rows
    raise Http404


REPORT_TABLES = ("summary", "funnel", "distribution", "trend", *analysis.BREAKDOWNS, "drivers")


# --- pages ----------------------------------------------------------------------------------------


class SurveyDetailView(SurveyAccessMixin, TemplateView):
    template_name = "dashboard/surveys/detail.html"

    def get_context_data(self, **kwargs):
        survey = self.survey()
        form, since, until, by = _period(self.request)
        questions = question_list(survey=survey)
        summary = analysis.survey_summary(survey=survey, since=since, until=until)
        funnel = analysis.survey_funnel(survey=survey, since=since, until=until)
        distributions = analysis.survey_distributions(
            survey=survey, questions=questions, since=since, until=until
        )
        trend = analysis.survey_trend(survey=survey, by=by, since=since, until=until)
        trend_measure = next(
            (m for m in (Measure.NPS, Measure.CSAT, Measure.CES) if m in summary.measures),
            Measure.NPS,
        )
        user = self.request.user
        return super().get_context_data(
            survey=survey,
            form=form,
            since=since,
            until=until,
            by=by,
            query=self.request.GET.urlencode(),
            summary=summary,
            headline=summary.as_dict(),
            has=summary.measures,
            funnel=funnel,
            funnel_chart={
                "labels": [step for step, _n, _p in funnel.steps()],
                "datasets": [
                    {"label": _("Invitations"), "data": [n for _s, n, _p in funnel.steps()]}
                ],
            },
            distributions=[(d, f"dist-{d.question.pk}", d.chart()) for d in distributions],
            trend=trend,
            trend_measure=trend_measure,
            trend_chart=analysis.trend_chart(trend, measure=trend_measure),
            breakdowns=analysis.survey_breakdowns(survey=survey, since=since, until=until),
            drivers=analysis.survey_drivers(
                survey=survey, questions=questions, since=since, until=until
            ),
            driver_min_n=stats.DRIVER_MIN_N,
            tables=REPORT_TABLES,
            may_export=user.has_perm("surveys.export_responses"),
            **kwargs,
        )


class SurveyAnswersView(SurveyAccessMixin, TemplateView):
    template_name = "dashboard/surveys/answers.html"

    def get_context_data(self, **kwargs):
        survey = self.survey()
        form, since, until, _by = _period(self.request)
        query = self.request.GET.get("q", "").strip()[:100]
        group = self.request.GET.get("group", "")
        allowed = analysis.may_read_text(user=self.request.user, survey=survey)
        page_obj = None
        if allowed:
            page_obj = paginate(
                analysis.text_answer_list(
                    survey=survey, query=query, group=group, since=since, until=until
                ),
                self.request,
            )
        return super().get_context_data(
            survey=survey,
            form=form,
            q=query,
            group=group,
            groups=ScoreGroup.choices,
            allowed=allowed,
            page_obj=page_obj,
            **kwargs,
        )


# --- exports --------------------------------------------------------------------------------------


def _write(fmt: str, filename: str, title: str):
    def write(header, rows):
        if fmt == "csv":
            return csv_response(filename=filename, header=header, rows=rows)
        return xlsx_response(filename=filename, title=title, header=header, rows=rows)

    return write


class SurveyResponsesExportView(SurveyAccessMixin, View):
    """Every response (within the page's dates) as CSV or XLSX; audited."""

    permission_required = ("surveys.view_survey", "surveys.export_responses")

    def get(self, request, pk, fmt):
        if fmt not in FORMATS:
            raise Http404
        survey = self.survey()
        _form, since, until, _by = _period(request)
        export = responses_export_rows(
            survey=survey,
            actor=request.user,
            fmt=fmt,
            qs=analysis.response_qs(survey=survey, since=since, until=until),
            identified=request.user.has_perm("surveys.view_text_answers"),
            filters=_filters(since, until),
        )
        filename = f"survey-{survey.slug}-responses-{timezone.localdate():%Y%m%d}"
        return _write(fmt, filename, str(survey.title))(export.header, export.rows)


class SurveyReportExportView(SurveyAccessMixin, View):
    """One of the page's tables as CSV or XLSX; audited."""

    permission_required = ("surveys.view_survey", "surveys.export_responses")

    def get(self, request, pk, table, fmt):
        if fmt not in FORMATS or table not in REPORT_TABLES:
            raise Http404
        survey = self.survey()
        _form, since, until, by = _period(request)
        header, rows = report_table(survey, table, since=since, until=until, by=by)
        filename = f"survey-{survey.slug}-{table}-{timezone.localdate():%Y%m%d}"
        return report_export(
            survey=survey,
            actor=request.user,
            fmt=fmt,
            table=table,
            header=header,
            rows=rows,
            filters={**_filters(since, until), "by": by if table == "trend" else ""},
            write=_write(fmt, filename, f"{survey.slug} {table}"),
        )

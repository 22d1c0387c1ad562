"""A survey's analysis for staff: headline figures with their intervals, the invitation funnel,
distributions, the trend, breakdowns by tier / store / channel, key drivers, the text answers
and the exports. Every figure comes from ``apps.surveys.analysis`` in a fixed number of queries
whatever the number of responses; free text of identified members needs
``surveys.view_text_answers``."""

import datetime as dt

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from apps.core.exports import csv_response, xlsx_response
from apps.surveys import analysis, stats
from apps.surveys.enums import Measure, ScoreGroup
from apps.surveys.exports import report_export
from apps.surveys.models import Survey
from apps.surveys.reports import REPORT_TABLES, report_table
from apps.surveys.selectors import question_list

from ..forms_surveys import PeriodForm, survey_period
from ._helpers import paginate
from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin

FORMATS = ("csv", "xlsx")


def _period(request) -> tuple[PeriodForm, dt.date | None, dt.date | None, str]:
    return survey_period(request.GET)


def _filters(since, until) -> dict[str, str]:
    return {
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }


class SurveyAccessMixin(StaffRequiredMixin):
    permission_required = "surveys.view_survey"

    def survey(self) -> Survey:
        if not hasattr(self, "_survey"):
            self._survey = get_object_or_404(Survey, pk=self.kwargs["pk"])
        return self._survey


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


class SurveyResponsesExportView(SurveyAccessMixin, SourceExportView):
    """Every response (within the page's dates) as CSV or XLSX; audited."""

    kind = "survey_responses"
    permission_required = ("surveys.view_survey", "surveys.export_responses")

    def get(self, request, pk, fmt):
        self.survey()
        return super().get(request, fmt=fmt, pk=pk)


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

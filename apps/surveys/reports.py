"""The analysis page's tables as plain rows (header, rows) in the reader's language: what the
page's "export this table" links write to CSV and XLSX. Every figure comes from
``apps.surveys.analysis``."""

from django.utils.translation import gettext as _

from . import analysis
from .models import Survey
from .selectors import question_list


def _fmt(value) -> str:
    return "" if value is None else value


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
    raise ValueError(f"unknown table {table!r}")


REPORT_TABLES = ("summary", "funnel", "distribution", "trend", *analysis.BREAKDOWNS, "drivers")

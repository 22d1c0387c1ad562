"""Survey analysis (reads): funnel, headline figures, distributions, trend, breakdowns, key
drivers and the text answers, each in a fixed number of set-based queries whatever the number of
responses. The maths on the aggregated counts and sums is in :mod:`apps.surveys.stats`.

Headline scores are denormalised on ``Response`` (``nps_score``, ``score_group``,
``csat_score``, ``ces_score``), so NPS, CSAT, CES, the trend and the breakdowns read that one
narrow table; distributions, drivers and text answers read ``Answer``. Every selector takes
optional ``since`` / ``until`` dates (inclusive, in the business time zone) on
``submitted_at`` (invitations: ``created_at``).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.customers.models import Store
from apps.loyalty.models import Tier

from . import stats
from .enums import (
    CHOICE_TYPES,
    SCALES,
    InvitationChannel,
    InvitationStatus,
    Measure,
    QuestionType,
    ScoreGroup,
    SkipReason,
)
from .enums import (
    Funnel as Step,
)
from .models import Answer, Invitation, Question, Response, Survey

# The command's JSON contract (DESIGN §6) and the page's headline cards read these.
SUMMARY_KEYS = (
    "responses",
    "invited",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
    "promoters",
    "passives",
    "detractors",
    "csat",
    "ces",
)
DRIVER_TYPES = frozenset({QuestionType.RATING, QuestionType.YES_NO, *CHOICE_TYPES})
DISTRIBUTION_TYPES = frozenset({*SCALES, QuestionType.YES_NO, *CHOICE_TYPES})


# --- filters ------------------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _period(column: str, since: dt.date | None, until: dt.date | None) -> Q:
    q = Q()
    if since:
        q &= Q(**{f"{column}__gte": _day_start(since)})
    if until:
        q &= Q(**{f"{column}__lt": _day_start(until + dt.timedelta(days=1))})
    return q


def response_qs(
    *, survey: Survey, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[Response]:
    return Response.objects.filter(_period("submitted_at", since, until), survey=survey)


def _answer_qs(
    survey: Survey,
    since: dt.date | None,
    until: dt.date | None,
    questions: list[Question] | None = None,
) -> QuerySet[Answer]:
    """The survey's answers (to ``questions`` when given: then no join at all unless a date
    filters the responses)."""
    if questions is not None:
        qs = Answer.objects.filter(question_id__in=[q.pk for q in questions])
    else:
        qs = Answer.objects.filter(question__survey=survey)
    return qs.filter(_period("response__submitted_at", since, until))


# --- the figures of a set of responses ------------------------------------------------------------


def _score_aggregates() -> dict[str, Any]:
    """Counts and sums NPS, CSAT and CES are computed from (one row per group)."""
    return {
        "n": Count("id"),
        "promoters": Count("id", filter=Q(score_group=ScoreGroup.PROMOTER)),
        "passives": Count("id", filter=Q(score_group=ScoreGroup.PASSIVE)),
        "detractors": Count("id", filter=Q(score_group=ScoreGroup.DETRACTOR)),
        "csat_n": Count("csat_score"),
        "csat_ok": Count("id", filter=Q(csat_score__gte=4)),
        "ces_n": Count("ces_score"),
        "ces_sum": Sum("ces_score"),
        "ces_sq": Sum(F("ces_score") * F("ces_score")),
    }


@dataclass(frozen=True)
class Figures:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: stats.Interval
    csat: stats.Interval
    ces: stats.Interval


def _figures(row: dict[str, Any]) -> Figures:
    return Figures(
        n=row["n"] or 0,
        promoters=row["promoters"] or 0,
        passives=row["passives"] or 0,
        detractors=row["detractors"] or 0,
        nps=stats.nps(row["promoters"] or 0, row["passives"] or 0, row["detractors"] or 0),
        csat=stats.csat(row["csat_ok"] or 0, row["csat_n"] or 0),
        ces=stats.ces(row["ces_n"] or 0, row["ces_sum"] or 0, row["ces_sq"] or 0),
    )


def survey_measures(*, survey: Survey) -> set[str]:
    """The headline measures the survey has a question for."""
    return set(
        Question.objects.filter(survey=survey).exclude(measure="").values_list("measure", flat=True)
    )


# --- headline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    responses: int
    invited: int
    measures: frozenset[str]
    figures: Figures

    @property
    def response_rate(self) -> float | None:
        return round(100.0 * self.responses / self.invited, 1) if self.invited else None

    def as_dict(self) -> dict[str, Any]:
        """Exactly the ``survey_stats --json`` contract; None where the survey has no question
        feeding that measure."""
        f = self.figures
        has_nps = Measure.NPS in self.measures
        return {
            "responses": self.responses,
            "invited": self.invited,
            "nps": f.nps.value if has_nps else None,
            "nps_ci_low": f.nps.low if has_nps else None,
            "nps_ci_high": f.nps.high if has_nps else None,
            "promoters": f.promoters if has_nps else None,
            "passives": f.passives if has_nps else None,
            "detractors": f.detractors if has_nps else None,
            "csat": f.csat.value if Measure.CSAT in self.measures else None,
            "ces": f.ces.value if Measure.CES in self.measures else None,
        }


def survey_summary(
    *, survey: Survey, since: dt.date | None = None, until: dt.date | None = None
) -> Summary:
    """Responses, invitations sent, NPS (with its interval and groups), CSAT and CES: three
    queries."""
    row = response_qs(survey=survey, since=since, until=until).aggregate(**_score_aggregates())
    invited = Invitation.objects.filter(
        _period("created_at", since, until), survey=survey, status=InvitationStatus.SENT
    ).count()
    return Summary(
        responses=row["n"] or 0,
        invited=invited,
        measures=frozenset(survey_measures(survey=survey)),
        figures=_figures(row),
    )


# --- funnel ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    sent: int
    opened: int
    started: int
    completed: int
    skipped: list[tuple[str, str, int]] = field(default_factory=list)  # (code, label, count)

    def steps(self) -> list[tuple[str, int, float | None]]:
        """(step, count, % of sent) for the funnel chart and table."""
        return [
            (str(label), count, round(100.0 * count / self.sent, 1) if self.sent else None)
            for label, count in (
                (Step.SENT.label, self.sent),
                (Step.OPENED.label, self.opened),
                (Step.STARTED.label, self.started),
                (Step.COMPLETED.label, self.completed),
            )
        ]


def survey_funnel(
    *, survey: Survey, since: dt.date | None = None, until: dt.date | None = None
) -> Funnel:
    """Invitations sent → opened → started → completed, and those skipped by reason: two
    queries."""
    qs = Invitation.objects.filter(_period("created_at", since, until), survey=survey)
    sent = Q(status=InvitationStatus.SENT)
    row = qs.aggregate(
        sent=Count("id", filter=sent),
        opened=Count("id", filter=sent & Q(opened_at__isnull=False)),
        started=Count("id", filter=sent & Q(started_at__isnull=False)),
        completed=Count("id", filter=sent & Q(completed_at__isnull=False)),
    )
    labels = dict(SkipReason.choices)
    skipped = [
        (reason, str(labels.get(reason, reason)), n)
        for reason, n in qs.filter(status=InvitationStatus.SKIPPED)
        .values_list("skip_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "skip_reason")
    ]
    return Funnel(skipped=skipped, **{k: v or 0 for k, v in row.items()})


# --- distributions ------------------------------------------------------------------------------


@dataclass
class Distribution:
    question: Question
    values: list[tuple[str, str, int]]  # (value, label, count)
    total: int  # answers to the question (a multiple choice may count one answer twice)

    def chart(self) -> dict[str, Any]:
        return {
            "labels": [label for _v, label, _n in self.values],
            "datasets": [{"label": str(self.question.text), "data": [n for *_x, n in self.values]}],
        }


def _value_labels(question: Question) -> list[tuple[str, str]]:
    if question.type in SCALES:
        low, high = SCALES[question.type]
        return [(str(v), str(v)) for v in range(low, high + 1)]
    if question.type == QuestionType.YES_NO:
        return [("1", _("Yes")), ("0", _("No"))]
    return [(c.value, str(c.label)) for c in question.choices.all()]


def survey_distributions(
    *,
    survey: Survey,
    questions: list[Question],
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Distribution]:
    """Counts per value of every scale, yes/no and choice question: one query (answers grouped
    by question, number and choice set; a choice set is expanded to its options here)."""
    wanted = [q for q in questions if q.type in DISTRIBUTION_TYPES]
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[int, int] = defaultdict(int)
    rows = (
        _answer_qs(survey, since, until, wanted)
        .values_list("question_id", "number", "choices")
        .annotate(n=Count("id"))
        .order_by()
    )
    for question_id, number, choices, n in rows:
        totals[question_id] += n
        if choices:
            for value in choices:
                counts[question_id][value] += n
        elif number is not None:
            counts[question_id][str(number)] += n
    return [
        Distribution(
            question=q,
            values=[(v, label, counts[q.pk].get(v, 0)) for v, label in _value_labels(q)],
            total=totals[q.pk],
        )
        for q in wanted
    ]


# --- trend ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: dt.date
    figures: Figures


def survey_trend(
    *,
    survey: Survey,
    by: str = "week",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Period]:
    """NPS, CSAT and CES with their intervals per week or month (local time): one query."""
    trunc = TruncMonth if by == "month" else TruncWeek
    rows = (
        response_qs(survey=survey, since=since, until=until)
        .annotate(period=trunc("submitted_at", tzinfo=timezone.get_current_timezone()))
        .values("period")
        .annotate(**_score_aggregates())
        .order_by("period")
    )
    return [
        Period(
            start=row["period"].date() if isinstance(row["period"], dt.datetime) else row["period"],
            figures=_figures(row),
        )
        for row in rows
    ]


def trend_chart(trend: list[Period], *, measure: str = Measure.NPS) -> dict[str, Any]:
    """The trend chart's data: the figure and its interval's bounds per period."""

    def pick(p: Period) -> stats.Interval:
        return getattr(p.figures, measure)

    return {
        "labels": [p.start.isoformat() for p in trend],
        "value": [pick(p).value for p in trend],
        "low": [pick(p).low for p in trend],
        "high": [pick(p).high for p in trend],
        "value_label": str(dict(Measure.choices).get(measure, measure)),
        "band_label": _("95% interval"),
    }


# --- breakdowns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    key: Any
    label: str
    figures: Figures


def _labels_tier(ids: set) -> dict:
    return {t.pk: str(t.name) for t in Tier.objects.filter(pk__in=ids)}


def _labels_store(ids: set) -> dict:
    return {s.pk: str(s.name) for s in Store.objects.filter(pk__in=ids)}


def _labels_channel(ids: set) -> dict:
    return {k: str(v) for k, v in InvitationChannel.choices}


@dataclass(frozen=True)
class Dimension:
    column: str
    title: Any
    labels: Callable[[set], dict]


def _dimensions() -> dict[str, Dimension]:
    # A segment breakdown is one more entry here: a Response column (or annotation) and a
    # function that names its values in one query.
    return {
        "tier": Dimension("tier_id", gettext_lazy("Tier"), _labels_tier),
        "store": Dimension("store_id", gettext_lazy("Store"), _labels_store),
        "channel": Dimension("channel", gettext_lazy("Channel"), _labels_channel),
    }


BREAKDOWNS = ("tier", "store", "channel")


def survey_breakdown(
    *,
    survey: Survey,
    dimension: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Group]:
    """NPS, CSAT and CES with n and intervals per tier, store or channel: two queries (the
    groups, their names). Responses without a value form one "none" group."""
    dim = _dimensions()[dimension]
    rows = list(
        response_qs(survey=survey, since=since, until=until)
        .values(dim.column)
        .annotate(**_score_aggregates())
        .order_by("-n", dim.column)
    )
    labels = dim.labels({row[dim.column] for row in rows if row[dim.column] is not None})
    return [
        Group(
            key=row[dim.column],
            label=labels.get(row[dim.column], str(row[dim.column]))
            if row[dim.column] not in (None, "")
            else _("None"),
            figures=_figures(row),
        )
        for row in rows
    ]


def survey_breakdowns(
    *, survey: Survey, since: dt.date | None = None, until: dt.date | None = None
) -> dict[str, tuple[str, list[Group]]]:
    dims = _dimensions()
    return {
        name: (
            str(dims[name].title),
            survey_breakdown(survey=survey, dimension=name, since=since, until=until),
        )
        for name in BREAKDOWNS
    }


# --- key drivers ----------------------------------------------------------------------------------


def survey_drivers(
    *,
    survey: Survey,
    questions: list[Question],
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[stats.Driver]:
    """Pearson r of each rating / yes-no question, and of each choice option as a 0/1
    indicator, with the response's NPS score, strongest first: two queries (the six sums per
    numeric question; per choice question the answers grouped by choice set with n, Σy, Σy²,
    from which each option's sums follow exactly)."""
    numeric = [q for q in questions if q.type in (QuestionType.RATING, QuestionType.YES_NO)]
    choice = [q for q in questions if q.type in CHOICE_TYPES]
    base = Answer.objects.filter(
        _period("response__submitted_at", since, until), response__nps_score__isnull=False
    )
    y = F("response__nps_score")
    drivers: list[stats.Driver] = []
    if numeric:
        sums = {
            row["question_id"]: row
            for row in base.filter(question_id__in=[q.pk for q in numeric], number__isnull=False)
            .values("question_id")
            .annotate(
                n=Count("id"),
                sx=Sum("number"),
                sy=Sum(y),
                sxx=Sum(F("number") * F("number")),
                syy=Sum(y * y),
                sxy=Sum(F("number") * y),
            )
            .order_by()
        }
        for q in numeric:
            s = sums.get(q.pk)
            corr = (
                stats.pearson_from_sums(s["n"], s["sx"], s["sy"], s["sxx"], s["syy"], s["sxy"])
                if s
                else stats.Correlation(None, None, 0, True)
            )
            drivers.append(stats.Driver(key=str(q.pk), label=str(q.text), correlation=corr))
    if choice:
        groups: dict[int, list[tuple[list, int, int, int]]] = defaultdict(list)
        for question_id, chosen, n, sy, syy in (
            base.filter(question_id__in=[q.pk for q in choice])
            .values_list("question_id", "choices")
            .annotate(n=Count("id"), sy=Sum(y), syy=Sum(y * y))
            .order_by()
        ):
            groups[question_id].append((chosen or [], n, sy or 0, syy or 0))
        for q in choice:
            rows = groups.get(q.pk, [])
            n = sum(r[1] for r in rows)
            sy = sum(r[2] for r in rows)
            syy = sum(r[3] for r in rows)
            for c in q.choices.all():
                hit = [r for r in rows if c.value in r[0]]
                sx = sum(r[1] for r in hit)
                sxy = sum(r[2] for r in hit)
                corr = stats.pearson_from_sums(n, sx, sy, sx, syy, sxy)
                drivers.append(
                    stats.Driver(
                        key=f"{q.pk}:{c.value}", label=f"{q.text}: {c.label}", correlation=corr
                    )
                )
    return stats.drivers_sorted(drivers)


# --- text answers ---------------------------------------------------------------------------------


def may_read_text(*, user, survey: Survey) -> bool:
    """Free text of identified members needs ``surveys.view_text_answers``; an anonymous
    survey's text ties to nobody."""
    return survey.anonymous or user.has_perm("surveys.view_text_answers")


def text_answer_list(
    *,
    survey: Survey,
    query: str = "",
    group: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[Answer]:
    """Non-empty text answers, newest first, with their question and response, optionally
    containing ``query`` and from one NPS group."""
    qs = _answer_qs(survey, since, until).filter(question__type=QuestionType.TEXT).exclude(text="")
    if query:
        qs = qs.filter(text__icontains=query)
    if group in ScoreGroup.values:
        qs = qs.filter(response__score_group=group)
    return qs.select_related("question", "response").order_by(
        "-response__submitted_at", "-response_id", "question_id"
    )

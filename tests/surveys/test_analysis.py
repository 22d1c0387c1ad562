import datetime as dt

import pytest
from django.utils import timezone

from apps.surveys import analysis
from apps.surveys.enums import InvitationStatus, Measure, QuestionType, SkipReason
from apps.surveys.selectors import question_list
from tests.surveys.analysis_data import bulk_responses, days_ago
from tests.surveys.factories import InvitationFactory, QuestionFactory, SurveyFactory, nps_survey

pytestmark = pytest.mark.django_db


def _shape(promoters=5, passives=3, detractors=2, at=None):
    rows = [{"nps": 10, "staff": 5, "found": 1, "reason": "shopping"} for _ in range(promoters)]
    rows += [{"nps": 7, "staff": 3, "found": 1, "reason": "returns"} for _ in range(passives)]
    rows += [
        {"nps": 2, "staff": 1, "found": 0, "reason": "returns", "text": "slow"}
        for _ in range(detractors)
    ]
    if at is not None:
        for row in rows:
            row["at"] = at
    return rows


def test_summary_counts_groups_and_nulls_for_missing_measures():
    survey = nps_survey()
    bulk_responses(survey, _shape())
    summary = analysis.survey_summary(survey=survey).as_dict()
    assert list(summary) == list(analysis.SUMMARY_KEYS)
    assert summary["responses"] == 10 and summary["invited"] == 10
    assert (summary["promoters"], summary["passives"], summary["detractors"]) == (5, 3, 2)
    assert summary["nps"] == 30.0
    assert summary["nps_ci_low"] < 30 < summary["nps_ci_high"]
    assert summary["csat"] is None and summary["ces"] is None


def test_since_filter_and_csat_ces():
    survey = SurveyFactory()
    QuestionFactory(survey=survey, type=QuestionType.RATING, measure=Measure.CSAT)
    QuestionFactory(survey=survey, type=QuestionType.RATING, measure=Measure.CES)
    bulk_responses(survey, [{"csat": 5, "ces": 2, "at": days_ago(1)}] * 3)
    bulk_responses(survey, [{"csat": 1, "ces": 4, "at": days_ago(40)}])
    whole = analysis.survey_summary(survey=survey).as_dict()
    assert whole["csat"] == 75.0 and whole["ces"] == 2.5 and whole["nps"] is None
    recent = analysis.survey_summary(
        survey=survey, since=timezone.localdate() - dt.timedelta(days=7)
    ).as_dict()
    assert recent["responses"] == 3 and recent["csat"] == 100.0 and recent["ces"] == 2.0
    old = analysis.survey_summary(
        survey=survey, until=timezone.localdate() - dt.timedelta(days=30)
    ).as_dict()
    assert old["responses"] == 1


def test_funnel_steps_and_skips():
    survey = nps_survey()
    InvitationFactory(survey=survey)
    InvitationFactory(survey=survey, opened_at=timezone.now())
    InvitationFactory(
        survey=survey,
        status=InvitationStatus.SKIPPED,
        skip_reason=SkipReason.COOLDOWN,
        sent_at=None,
    )
    bulk_responses(survey, _shape(1, 0, 0))
    funnel = analysis.survey_funnel(survey=survey)
    assert (funnel.sent, funnel.opened, funnel.started, funnel.completed) == (3, 2, 1, 1)
    assert [(code, n) for code, _label, n in funnel.skipped] == [("cooldown", 1)]


def test_distributions_count_values_and_choices():
    survey = nps_survey()
    bulk_responses(survey, _shape())
    dists = {
        d.question.type: d
        for d in analysis.survey_distributions(
            survey=survey, questions=question_list(survey=survey)
        )
    }
    nps = dict((v, n) for v, _l, n in dists[QuestionType.NPS].values)
    assert nps["10"] == 5 and nps["7"] == 3 and nps["2"] == 2 and nps["0"] == 0
    assert dict((v, n) for v, _l, n in dists[QuestionType.YES_NO].values) == {"1": 8, "0": 2}
    assert dict((v, n) for v, _l, n in dists[QuestionType.SINGLE_CHOICE].values) == {
        "shopping": 5,
        "returns": 5,
    }
    assert QuestionType.TEXT not in dists


def test_trend_by_week_and_month():
    survey = nps_survey()
    bulk_responses(survey, _shape(at=days_ago(1)))
    bulk_responses(survey, _shape(2, 0, 0, at=days_ago(21)))
    weeks = analysis.survey_trend(survey=survey, by="week")
    assert [p.figures.n for p in weeks] == [2, 10]
    assert weeks[0].figures.nps.value == 100.0 and weeks[1].figures.nps.value == 30.0
    months = analysis.survey_trend(survey=survey, by="month")
    assert sum(p.figures.n for p in months) == 12
    chart = analysis.trend_chart(weeks)
    assert chart["value"] == [100.0, 30.0] and len(chart["low"]) == 2


def test_breakdown_by_store_and_channel(store):
    survey = nps_survey()
    rows = _shape()
    for row in rows[:5]:
        row["store"] = store
    bulk_responses(survey, rows)
    groups = analysis.survey_breakdown(survey=survey, dimension="store")
    by_label = {g.label: g.figures for g in groups}
    assert by_label[store.name].n == 5 and by_label[store.name].nps.value == 100.0
    assert by_label["None"].n == 5
    channels = analysis.survey_breakdown(survey=survey, dimension="channel")
    assert [(g.key, g.figures.n) for g in channels] == [("email", 10)]
    assert set(analysis.survey_breakdowns(survey=survey)) == {"tier", "store", "channel"}


def test_drivers_planted_correlation_and_flag():
    survey = nps_survey()
    rows = []
    for i in range(40):
        score = i % 11
        rows.append(
            {
                "nps": score,
                "staff": 1 + score * 4 // 10,
                "found": i % 2,
                "reason": "shopping" if score >= 9 else "returns",
            }
        )
    bulk_responses(survey, rows)
    drivers = analysis.survey_drivers(survey=survey, questions=question_list(survey=survey))
    by_label = {d.label: d.correlation for d in drivers}
    assert drivers[0].label == "Staff?" and by_label["Staff?"].r > 0.95
    assert abs(by_label["Found it?"].r) < 0.2
    assert by_label["Why did you visit?: Shopping"].r > 0.5
    assert by_label["Why did you visit?: Returns"].r == -by_label["Why did you visit?: Shopping"].r
    assert all(not c.too_few for c in by_label.values())
    small = nps_survey()
    bulk_responses(small, rows[:10])
    assert all(
        d.correlation.too_few
        for d in analysis.survey_drivers(survey=small, questions=question_list(survey=small))
    )


def test_text_answers_search_and_group_and_anonymous():
    survey = nps_survey(anonymous=True)
    rows = _shape(1, 0, 2)
    rows[0]["text"] = "great service"
    bulk_responses(survey, rows)
    assert analysis.text_answer_list(survey=survey).count() == 3
    assert [a.text for a in analysis.text_answer_list(survey=survey, query="GREAT")] == [
        "great service"
    ]
    assert analysis.text_answer_list(survey=survey, group="detractor").count() == 2
    summary = analysis.survey_summary(survey=survey).as_dict()
    assert summary["responses"] == 3 and summary["nps"] == round(100 * (1 - 2) / 3, 1)

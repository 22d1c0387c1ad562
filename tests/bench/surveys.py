"""Survey analysis at volume: one NPS survey with about a million answers at scale 1
(``RESPONSES_AT_SCALE_1`` responses of four or five answers each), seeded set-based in SQL
(``INSERT ... SELECT generate_series``), then the headline summary, the distributions and the
breakdowns measured through :mod:`apps.surveys.analysis` against the bare SQL aggregates of the
same figures in the same run (target: at most 2×).

The survey is ``nps_survey()``'s shape: an NPS question, a staff rating that follows the score,
a yes/no, a single choice and a text shown to detractors. Scores are drawn with a fixed seed
(``setseed``), so a run at the same scale seeds the same data.
"""

from __future__ import annotations

import time

from django.db import connection

from apps.surveys import analysis
from apps.surveys.enums import Measure, QuestionType, SurveyKind, SurveyStatus
from apps.surveys.models import Choice, Question, Survey
from apps.surveys.selectors import question_list

RESPONSES_AT_SCALE_1 = 230_000
SLUG = "bench-nps"


def _survey() -> Survey:
    survey = Survey.objects.create(
        slug=SLUG,
        title_en="Bench NPS",
        title_zh_hans="基准 NPS",
        kind=SurveyKind.NPS,
        status=SurveyStatus.LIVE,
    )

    def question(position, type_, text, **kw):
        return Question.objects.create(
            survey=survey, position=position, type=type_, text_en=text, text_zh_hans=text, **kw
        )

    nps = question(1, QuestionType.NPS, "Recommend?", measure=Measure.NPS)
    question(2, QuestionType.RATING, "Staff?")
    question(3, QuestionType.YES_NO, "Found it?", required=False)
    reason = question(4, QuestionType.SINGLE_CHOICE, "Why?", required=False)
    for i, value in enumerate(("shopping", "returns", "browsing"), start=1):
        Choice.objects.create(question=reason, position=i, value=value, label_en=value.title())
    question(
        5,
        QuestionType.TEXT,
        "What went wrong?",
        required=False,
        show_if_question=nps,
        show_if_values=[str(n) for n in range(7)],
    )
    return survey


def seed_survey(*, scale: float, log=print) -> dict:
    """The bench survey, its invitations, responses and answers; returns counts and timings."""
    existing = Survey.objects.filter(slug=SLUG).first()
    if existing is not None:
        return {"reused": True, "responses": existing.responses.count()}
    n = max(2000, round(RESPONSES_AT_SCALE_1 * scale))
    started = time.perf_counter()
    survey = _survey()
    q = {question.position: question.pk for question in survey.questions.all()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            """
            INSERT INTO surveys_invitation (survey_id, customer_id, token, channel, status,
                skip_reason, context, order_id, store_id, email_status, created_at, sent_at,
                expires_at, opened_at, started_at, completed_at)
            SELECT %(survey)s, NULL, 'bench-' || g, (ARRAY['email','portal','receipt'])[1 + g %% 3],
                'sent', '', 'bench:' || g, NULL,
                (SELECT ids[1 + g %% greatest(array_length(ids, 1), 1)]
                   FROM (SELECT array_agg(id ORDER BY id) AS ids FROM customers_store) s),
                '', at, at, at + interval '14 days', at, at, at
            FROM (SELECT g, now() - (g %% 365) * interval '1 day' - (g %% 1440) * interval '1 minute'
                  AS at FROM generate_series(1, %(n)s) g) x
            """,
            {"survey": survey.pk, "n": n},
        )
        cursor.execute(
            """
            INSERT INTO surveys_response (survey_id, invitation_id, customer_id, submitted_at,
                language, channel, store_id, tier_id, nps_score, score_group, csat_score,
                ces_score, reward_points)
            SELECT i.survey_id, i.id, NULL, i.completed_at, 'en', i.channel, i.store_id,
                (SELECT ids[1 + i.id %% greatest(array_length(ids, 1), 1)]
                   FROM (SELECT array_agg(id ORDER BY id) AS ids FROM loyalty_tier) t),
                s.score,
                CASE WHEN s.score >= 9 THEN 'promoter' WHEN s.score >= 7 THEN 'passive'
                     ELSE 'detractor' END,
                NULL, NULL, 0
            FROM surveys_invitation i
            CROSS JOIN LATERAL (SELECT least(10, floor(random() * 8 + random() * 4)::int)
                                AS score WHERE i.id IS NOT NULL) s
            WHERE i.survey_id = %(survey)s
            """,
            {"survey": survey.pk},
        )
        cursor.execute(
            """
            INSERT INTO surveys_answer (response_id, question_id, number, text, choices)
            SELECT r.id, %(nps)s, r.nps_score, '', '[]'::jsonb
              FROM surveys_response r WHERE r.survey_id = %(survey)s
            UNION ALL
            SELECT r.id, %(staff)s, greatest(1, least(5, 1 + r.nps_score / 3 + (random() < 0.3)::int)),
                   '', '[]'::jsonb
              FROM surveys_response r WHERE r.survey_id = %(survey)s
            UNION ALL
            SELECT r.id, %(found)s, (random() < 0.6)::int, '', '[]'::jsonb
              FROM surveys_response r WHERE r.survey_id = %(survey)s
            UNION ALL
            SELECT r.id, %(reason)s, NULL, '',
                   jsonb_build_array((ARRAY['shopping','returns','browsing'])[1 + r.id %% 3])
              FROM surveys_response r WHERE r.survey_id = %(survey)s
            UNION ALL
            SELECT r.id, %(text)s, NULL, 'The queue was too long (' || r.id || ')', '[]'::jsonb
              FROM surveys_response r WHERE r.survey_id = %(survey)s AND r.nps_score <= 6
            """,
            {
                "survey": survey.pk,
                "nps": q[1],
                "staff": q[2],
                "found": q[3],
                "reason": q[4],
                "text": q[5],
            },
        )
        cursor.execute("ANALYZE surveys_invitation")
        cursor.execute("ANALYZE surveys_response")
        cursor.execute("ANALYZE surveys_answer")
        cursor.execute(
            "SELECT count(*) FROM surveys_answer a JOIN surveys_question q ON "
            "q.id = a.question_id WHERE q.survey_id = %s",
            [survey.pk],
        )
        answers = cursor.fetchone()[0]
    seconds = time.perf_counter() - started
    log(f"  survey: {n:,} responses, {answers:,} answers in {seconds:.1f} s")
    return {"responses": n, "answers": answers, "seconds": round(seconds, 1)}


# --- the bare SQL references ----------------------------------------------------------------------

_SUMMARY_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE score_group = 'promoter'),
       count(*) FILTER (WHERE score_group = 'passive'),
       count(*) FILTER (WHERE score_group = 'detractor'),
       count(csat_score), count(*) FILTER (WHERE csat_score >= 4),
       count(ces_score), sum(ces_score), sum(ces_score * ces_score)
  FROM surveys_response WHERE survey_id = %s
"""
_INVITED_SQL = "SELECT count(*) FROM surveys_invitation WHERE survey_id = %s AND status = 'sent'"
_MEASURES_SQL = "SELECT measure FROM surveys_question WHERE survey_id = %s AND measure <> ''"
_DISTRIBUTION_SQL = """
SELECT question_id, number, choices, count(*) FROM surveys_answer
 WHERE question_id = ANY(%s) GROUP BY 1, 2, 3
"""
_BREAKDOWN_SQL = """
SELECT {column},
       count(*),
       count(*) FILTER (WHERE score_group = 'promoter'),
       count(*) FILTER (WHERE score_group = 'passive'),
       count(*) FILTER (WHERE score_group = 'detractor'),
       count(csat_score), count(*) FILTER (WHERE csat_score >= 4),
       count(ces_score), sum(ces_score), sum(ces_score * ces_score)
  FROM surveys_response WHERE survey_id = %s GROUP BY 1
"""

_DRIVERS_NUMERIC_SQL = """
SELECT a.question_id, count(*), sum(a.number), sum(r.nps_score), sum(a.number * a.number),
       sum(r.nps_score * r.nps_score), sum(a.number * r.nps_score)
  FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id
 WHERE a.question_id = ANY(%s) AND a.number IS NOT NULL AND r.nps_score IS NOT NULL
 GROUP BY 1
"""
_DRIVERS_CHOICE_SQL = """
SELECT a.question_id, a.choices, count(*), sum(r.nps_score), sum(r.nps_score * r.nps_score)
  FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id
 WHERE a.question_id = ANY(%s) AND r.nps_score IS NOT NULL
 GROUP BY 1, 2
"""


def _fetch(sql: str, params) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _bare_summary(survey_id: int) -> None:
    _fetch(_SUMMARY_SQL, [survey_id])
    _fetch(_INVITED_SQL, [survey_id])
    _fetch(_MEASURES_SQL, [survey_id])


def _bare_breakdowns(survey_id: int) -> None:
    for column in ("tier_id", "store_id", "channel"):
        _fetch(_BREAKDOWN_SQL.format(column=column), [survey_id])


def measure_surveys(*, scale: float, runs: int) -> list[dict]:
    from tests.bench.measure import median_seconds, result_row, skipped

    survey = Survey.objects.filter(slug=SLUG).first()
    if survey is None:
        return [skipped("surveys", "no seeded survey")]
    questions = question_list(survey=survey)
    wanted = [q.pk for q in questions if q.type in analysis.DISTRIBUTION_TYPES]
    numeric = [q.pk for q in questions if q.type in (QuestionType.RATING, QuestionType.YES_NO)]
    choice = [
        q.pk for q in questions if q.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTI_CHOICE)
    ]
    responses = survey.responses.count()
    note = f"{responses:,} responses"

    # The app and its reference must agree before their times mean anything.
    summary = analysis.survey_summary(survey=survey)
    row = _fetch(_SUMMARY_SQL, [survey.pk])[0]
    assert (summary.responses, summary.figures.promoters, summary.figures.detractors) == (
        row[0],
        row[1],
        row[3],
    ), "the summary disagrees with the bare aggregate"

    cases = [
        (
            "survey_summary (NPS + CI)",
            lambda: analysis.survey_summary(survey=survey),
            lambda: _bare_summary(survey.pk),
            "bare SQL aggregate, 3 queries",
        ),
        (
            "survey_distributions",
            lambda: analysis.survey_distributions(survey=survey, questions=questions),
            lambda: _fetch(_DISTRIBUTION_SQL, [wanted]),
            "bare SQL GROUP BY on answers",
        ),
        (
            "survey_breakdowns (tier, store, channel)",
            lambda: analysis.survey_breakdowns(survey=survey),
            lambda: _bare_breakdowns(survey.pk),
            "bare SQL GROUP BY × 3",
        ),
        (
            "survey_drivers (r from SQL sums)",
            lambda: analysis.survey_drivers(survey=survey, questions=questions),
            lambda: (
                _fetch(_DRIVERS_NUMERIC_SQL, [numeric]),
                _fetch(_DRIVERS_CHOICE_SQL, [choice]),
            ),
            "bare SQL sums, 2 queries",
        ),
    ]
    results = []
    for label, app, bare, ref_label in cases:
        value = median_seconds(app, runs) * 1000
        reference = median_seconds(bare, runs) * 1000
        results.append(
            result_row(
                label,
                value=value,
                unit="ms",
                reference=reference,
                reference_label=ref_label,
                detail=note,
            )
        )
    return results

import pytest

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.surveys.enums import Measure, QuestionType, SurveyKind, SurveyStatus
from apps.surveys.exceptions import SurveyLocked
from apps.surveys.models import Choice, Question, Survey
from apps.surveys.services.builder import (
    question_add,
    question_delete,
    question_move,
    question_update,
    questions_reorder,
    survey_create,
    survey_update,
)
from apps.surveys.services.lifecycle import (
    survey_close,
    survey_copy,
    survey_pause,
    survey_publish,
    survey_resume,
)
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db

CHOICES = [
    {"value": "shop", "label_en": "Shopping", "label_zh_hans": "购物"},
    {"value": "return", "label_en": "Returns", "label_zh_hans": ""},
]


def _draft(kind=SurveyKind.CUSTOM, **kw):
    return survey_create(actor=None, title_en="Visit", kind=kind, **kw)


def _with_response(survey):
    from apps.surveys.models import Response

    inv = InvitationFactory(survey=survey)
    Response.objects.create(survey=survey, invitation=inv, channel="email")
    return survey


def test_create_nps_prefills_standard_question_in_both_languages():
    survey = _draft(SurveyKind.NPS)
    (q,) = questions(survey)
    assert survey.status == SurveyStatus.DRAFT and survey.slug.startswith("visit-")
    assert q.type == QuestionType.NPS and q.measure == Measure.NPS
    assert q.text_en.startswith("How likely") and q.text_zh_hans
    assert AuditEvent.objects.filter(action="survey.create").count() == 1


def test_create_custom_has_no_question_and_title_needed():
    assert questions(_draft()) == []
    with pytest.raises(ValidationFailed) as exc:
        survey_create(actor=None, title_en="", title_zh_hans=" ", kind=SurveyKind.CUSTOM)
    assert exc.value.extra["field"] == "title_en"
    assert Survey.objects.count() == 1


def test_text_rule_refused_on_field():
    with pytest.raises(ValidationFailed) as exc:
        survey_create(actor=None, title_en="Bad\x07", kind=SurveyKind.CUSTOM)
    assert exc.value.extra["field"] == "title_en" and Survey.objects.count() == 0


def test_update_channels_checked():
    survey = _draft()
    survey_update(survey=survey, actor=None, invite_channels=["portal"], trigger_channels=[])
    survey.refresh_from_db()
    assert survey.invite_channels == ["portal"]
    with pytest.raises(ValidationFailed):
        survey_update(survey=survey, actor=None, invite_channels=["receipt"])
    with pytest.raises(ValidationFailed):
        survey_update(survey=survey, actor=None, trigger_channels=["fax"])
    survey.refresh_from_db()
    assert survey.invite_channels == ["portal"]


def test_add_choice_question_with_choices_and_condition():
    survey = _draft(SurveyKind.NPS)
    nps = questions(survey)[0]
    q = question_add(
        survey=survey,
        actor=None,
        type=QuestionType.SINGLE_CHOICE,
        text_en="Why?",
        choices=CHOICES,
    )
    assert [c.value for c in q.choices.order_by("position")] == ["shop", "return"]
    t = question_add(
        survey=survey,
        actor=None,
        type=QuestionType.TEXT,
        text_en="What went wrong?",
        required=False,
        show_if_question=nps,
        show_if_values=["6", "0"],
    )
    assert t.show_if_values == ["0", "6"] and t.position == 3
    c = question_add(
        survey=survey,
        actor=None,
        type=QuestionType.YES_NO,
        text_en="More?",
        show_if_question=q,
        show_if_values=["return"],
    )
    assert c.show_if_question == q


@pytest.mark.parametrize(("values", "field"), [(["11"], "show_if_values"), ([], "show_if_values")])
def test_condition_values_must_be_valid(values, field):
    survey = _draft(SurveyKind.NPS)
    nps = questions(survey)[0]
    with pytest.raises(ValidationFailed) as exc:
        question_add(
            survey=survey,
            actor=None,
            type=QuestionType.TEXT,
            text_en="x",
            show_if_question=nps,
            show_if_values=values,
        )
    assert exc.value.extra["field"] == field and survey.questions.count() == 1


def test_condition_must_read_earlier_comparable_question_of_same_survey():
    survey = _draft(SurveyKind.NPS)
    text = question_add(survey=survey, actor=None, type=QuestionType.TEXT, text_en="Say")
    later = question_add(survey=survey, actor=None, type=QuestionType.YES_NO, text_en="Y?")
    other = questions(_draft(SurveyKind.NPS))[0]
    for show_if, values in ((text, ["a"]), (other, ["1"])):
        with pytest.raises(ValidationFailed):
            question_add(
                survey=survey,
                actor=None,
                type=QuestionType.TEXT,
                text_en="x",
                show_if_question=show_if,
                show_if_values=values,
            )
    # An earlier question cannot read a later one.
    with pytest.raises(ValidationFailed):
        question_update(question=text, actor=None, show_if_question=later, show_if_values=["yes"])
    assert survey.questions.count() == 3


def test_measure_rules():
    survey = _draft(SurveyKind.NPS)
    with pytest.raises(ValidationFailed) as exc:
        question_add(survey=survey, actor=None, type=QuestionType.NPS, text_en="x", measure="nps")
    assert exc.value.extra["field"] == "measure"
    with pytest.raises(ValidationFailed):
        question_add(survey=survey, actor=None, type=QuestionType.NPS, text_en="x", measure="csat")
    q = question_add(
        survey=survey, actor=None, type=QuestionType.RATING, text_en="x", measure="csat"
    )
    assert q.measure == Measure.CSAT and survey.questions.count() == 2


def test_choice_codes_unique_and_two_needed():
    survey = _draft()
    for choices in ([CHOICES[0]], [CHOICES[0], CHOICES[0]], [{"value": "a b", "label_en": "x"}]):
        with pytest.raises(ValidationFailed) as exc:
            question_add(
                survey=survey,
                actor=None,
                type=QuestionType.MULTI_CHOICE,
                text_en="x",
                choices=choices,
            )
        assert exc.value.extra["field"] == "choices"
    assert Question.objects.count() == 0


def test_reorder_and_move_keep_conditions_after_their_source():
    survey = nps_survey(status=SurveyStatus.DRAFT)
    q1, q2, q3, q4, q5 = questions(survey)
    question_move(question=q3, direction="up", actor=None)
    assert questions(survey) == [q1, q3, q2, q4, q5]
    questions_reorder(survey=survey, order=[q1.pk, q5.pk, q4.pk, q3.pk, q2.pk], actor=None)
    assert questions(survey) == [q1, q5, q4, q3, q2]
    with pytest.raises(ValidationFailed):
        questions_reorder(survey=survey, order=[q5.pk, q1.pk, q4.pk, q3.pk, q2.pk], actor=None)
    with pytest.raises(ValidationFailed):
        questions_reorder(survey=survey, order=[q1.pk], actor=None)
    assert questions(survey) == [q1, q5, q4, q3, q2]


def test_delete_renumbers_and_refuses_a_question_read_by_a_condition():
    survey = nps_survey(status=SurveyStatus.DRAFT)
    q1, q2, *_rest = questions(survey)
    with pytest.raises(ValidationFailed):
        question_delete(question=q1, actor=None)
    question_delete(question=q2, actor=None)
    assert [q.position for q in questions(survey)] == [1, 2, 3, 4]


# --- meaning lock -------------------------------------------------------------------------------


@pytest.fixture
def answered():
    survey = _with_response(nps_survey())
    return survey, questions(survey)


def _state(survey):
    return [
        (
            q.type,
            q.text_en,
            q.text_zh_hans,
            q.measure,
            q.show_if_question_id,
            q.show_if_values,
            q.required,
            [(c.value, c.label_en) for c in q.choices.order_by("position")],
        )
        for q in questions(survey)
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda qs: question_update(question=qs[1], actor=None, type=QuestionType.NPS),
        lambda qs: question_update(question=qs[1], actor=None, text_en="Reworded"),
        lambda qs: question_update(
            question=qs[3],
            actor=None,
            choices=[
                {"value": "shopping", "label_en": "Shopping"},
                {"value": "other", "label_en": "Other"},
            ],
        ),
        lambda qs: question_update(question=qs[0], actor=None, measure=""),
        lambda qs: question_update(
            question=qs[4], actor=None, show_if_question=qs[0], show_if_values=["0"]
        ),
        lambda qs: question_delete(question=qs[2], actor=None),
        lambda qs: question_add(
            survey=qs[0].survey, actor=None, type=QuestionType.TEXT, text_en="New", required=True
        ),
    ],
    ids=["type", "text", "choices", "measure", "condition", "delete", "required-new"],
)
def test_locked_survey_refuses_meaning_changes_and_changes_nothing(answered, change):
    survey, qs = answered
    before = _state(survey)
    audits = AuditEvent.objects.count()
    with pytest.raises(SurveyLocked):
        change(qs)
    assert _state(survey) == before and AuditEvent.objects.count() == audits


def test_locked_survey_allows_filling_empty_language_reorder_and_optional_questions(answered):
    survey, qs = answered
    Question.objects.filter(pk=qs[1].pk).update(text_zh_hans="")
    question_update(question=qs[1], actor=None, text_zh_hans="员工？", text_en="Staff?")
    qs[1].refresh_from_db()
    assert qs[1].text_zh_hans == "员工？"
    question_move(question=qs[2], direction="up", actor=None)
    new = question_add(
        survey=survey,
        actor=None,
        type=QuestionType.TEXT,
        text_en="Anything else?",
        required=False,
    )
    assert new.position == 6
    survey_update(survey=survey, actor=None, title_en="Renamed")
    survey.refresh_from_db()
    assert survey.title_en == "Renamed"


# --- status and copy ----------------------------------------------------------------------------


def test_publish_refusals():
    empty = _draft()
    with pytest.raises(ValidationFailed, match="at least one question"):
        survey_publish(survey=empty, actor=None)
    nps = _draft(SurveyKind.NPS)
    Question.objects.filter(survey=nps).update(measure="")
    with pytest.raises(ValidationFailed, match="feeds"):
        survey_publish(survey=nps, actor=None)
    choice = _draft()
    q = question_add(
        survey=choice, actor=None, type=QuestionType.SINGLE_CHOICE, text_en="x", choices=CHOICES
    )
    Choice.objects.filter(question=q, value="return").delete()
    with pytest.raises(ValidationFailed, match="two choices"):
        survey_publish(survey=choice, actor=None)
    assert set(Survey.objects.values_list("status", flat=True)) == {SurveyStatus.DRAFT}


def test_status_flow():
    survey = _draft(SurveyKind.NPS)
    survey = survey_publish(survey=survey, actor=None)
    assert survey.status == SurveyStatus.LIVE and survey.published_at
    with pytest.raises(ValidationFailed):
        survey_publish(survey=survey, actor=None)
    assert survey_pause(survey=survey, actor=None).status == SurveyStatus.PAUSED
    assert survey_resume(survey=survey, actor=None).status == SurveyStatus.LIVE
    survey = survey_close(survey=survey, actor=None)
    assert survey.status == SurveyStatus.CLOSED and survey.closed_at
    with pytest.raises(ValidationFailed):
        survey_resume(survey=survey, actor=None)
    assert AuditEvent.objects.filter(action__startswith="survey.").count() == 5


def test_copy_makes_a_draft_version_with_questions_choices_and_conditions():
    source = nps_survey()
    copy = survey_copy(survey=source, actor=None)
    assert copy.status == SurveyStatus.DRAFT and copy.copied_from == source
    assert copy.slug != source.slug and copy.title_en == source.title_en
    old, new = questions(source), questions(copy)
    assert [(q.type, q.text_en, q.measure) for q in old] == [
        (q.type, q.text_en, q.measure) for q in new
    ]
    assert new[4].show_if_question == new[0] and new[4].show_if_values == old[4].show_if_values
    assert [c.value for c in new[3].choices.all()] == ["shopping", "returns"]


def test_update_audits_changed_fields_and_stores_only():
    from tests.customers.factories import StoreFactory

    survey = _draft()
    store = StoreFactory()
    survey_update(survey=survey, actor=None, title_en="Visit", trigger_stores=[store])
    event = AuditEvent.objects.get(action="survey.update")
    assert event.before == {"trigger_stores": []} and event.after == {"trigger_stores": [store.pk]}

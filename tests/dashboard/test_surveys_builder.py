import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from apps.surveys.enums import InvitationStatus, Measure, QuestionType, SurveyKind, SurveyStatus
from apps.surveys.models import Invitation, Question, Survey
from tests.customers.factories import CustomerFactory
from tests.surveys.factories import (
    InvitationFactory,
    QuestionFactory,
    SurveyFactory,
    consent_surveys,
    nps_survey,
    questions,
)

pytestmark = pytest.mark.django_db


def url(name, **kw):
    return reverse(f"dashboard:{name}", kwargs=kw)


def _survey_post(**extra):
    data = {
        "title_en": "After your visit",
        "title_zh_hans": "到店之后",
        "intro_en": "",
        "intro_zh_hans": "",
        "thank_you_en": "Thanks!",
        "thank_you_zh_hans": "",
        "kind": SurveyKind.NPS,
        "display": "one_per_screen",
        "reward_points": "10",
        "trigger": "manual",
        "delay_days": "1",
        "sample_percent": "100",
        "invite_channels": ["email", "portal"],
        "valid_days": "14",
    }
    data.update(extra)
    return data


def _question_post(**extra):
    data = {
        "q-type": QuestionType.TEXT,
        "q-text_en": "What went wrong?",
        "q-text_zh_hans": "",
        "q-help_text_en": "",
        "q-help_text_zh_hans": "",
        "q-measure": "",
        "q-show_if_question": "",
        "q-show_if_values": "",
        "choices-TOTAL_FORMS": "3",
        "choices-INITIAL_FORMS": "0",
        "choices-MIN_NUM_FORMS": "0",
        "choices-MAX_NUM_FORMS": "50",
    }
    for i in range(3):
        for f in ("value", "label_en", "label_zh_hans"):
            data[f"choices-{i}-{f}"] = ""
    data.update(extra)
    return data


def test_anonymous_sent_to_login_and_member_refused(client, member_user):
    survey = SurveyFactory()
    pages = [
        url("survey-list"),
        url("survey-questions", pk=survey.pk),
        url("survey-edit", pk=survey.pk),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(member_user)
    for page in pages:
        assert client.get(page).status_code == 403


def test_agent_views_but_cannot_change(client, agent):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    client.force_login(agent)
    assert client.get(url("survey-list")).status_code == 200
    page = client.get(url("survey-questions", pk=survey.pk))
    assert page.status_code == 200 and b"Add question" not in page.content
    assert client.get(url("survey-preview", pk=survey.pk)).status_code == 200
    assert client.get(url("survey-create")).status_code == 403
    assert client.get(url("survey-edit", pk=survey.pk)).status_code == 403
    assert client.post(url("survey-status", pk=survey.pk), {"action": "publish"}).status_code == 403
    assert client.get(url("survey-invite", pk=survey.pk)).status_code == 403
    q = questions(survey)[1]
    assert (
        client.post(url("survey-question-delete", pk=survey.pk, question=q.pk)).status_code == 403
    )
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.DRAFT and survey.questions.count() == 5


def test_unknown_ids_are_404(client, marketer):
    client.force_login(marketer)
    other = nps_survey()
    survey = SurveyFactory()
    for page in [
        url("survey-edit", pk=999999),
        url("survey-questions", pk=999999),
        url("survey-preview", pk=999999),
        url("survey-invite", pk=999999),
        url("survey-question-edit", pk=survey.pk, question=questions(other)[0].pk),
    ]:
        assert client.get(page).status_code == 404, page


def test_create_add_questions_reorder_and_publish(client, marketer):
    client.force_login(marketer)
    response = client.post(url("survey-create"), _survey_post())
    survey = Survey.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("survey-questions", pk=survey.pk)
    (nps,) = questions(survey)
    assert nps.measure == Measure.NPS and survey.status == SurveyStatus.DRAFT
    assert survey.invite_channels == ["email", "portal"] and survey.reward_points == 10
    # A choice question with two choices, then a text question shown to detractors.
    add = url("survey-question-add", pk=survey.pk)
    response = client.post(
        add,
        _question_post(
            **{
                "q-type": QuestionType.SINGLE_CHOICE,
                "q-text_en": "Why did you visit?",
                "q-required": "on",
                "choices-0-value": "shop",
                "choices-0-label_en": "Shopping",
                "choices-1-value": "return",
                "choices-1-label_zh_hans": "退货",
            }
        ),
    )
    assert response.status_code == 302
    response = client.post(
        add,
        _question_post(**{"q-show_if_question": str(nps.pk), "q-show_if_values": "0, 1, 6"}),
    )
    assert response.status_code == 302
    nps, choice, text = questions(survey)
    assert [c.value for c in choice.choices.all()] == ["shop", "return"]
    assert text.show_if_question == nps and text.show_if_values == ["0", "1", "6"]
    assert not text.required
    # Move up without JavaScript, then drag and drop.
    client.post(url("survey-question-move", pk=survey.pk, question=text.pk), {"direction": "up"})
    assert questions(survey) == [nps, text, choice]
    response = client.post(
        url("survey-questions-reorder", pk=survey.pk),
        {"order": [nps.pk, choice.pk, text.pk]},
        content_type="application/json",
    )
    assert response.status_code == 200 and questions(survey) == [nps, choice, text]
    response = client.post(
        url("survey-questions-reorder", pk=survey.pk),
        {"order": [text.pk, nps.pk, choice.pk]},
        content_type="application/json",
    )
    assert response.status_code == 400 and questions(survey) == [nps, choice, text]
    page = client.get(url("survey-questions", pk=survey.pk))
    assert page.status_code == 200 and b"Why did you visit?" in page.content
    response = client.post(url("survey-status", pk=survey.pk), {"action": "publish"})
    survey.refresh_from_db()
    assert response.status_code == 302 and survey.status == SurveyStatus.LIVE


def test_question_form_shows_service_refusal(client, marketer):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    client.force_login(marketer)
    nps = questions(survey)[0]
    response = client.post(
        url("survey-question-add", pk=survey.pk),
        _question_post(**{"q-show_if_question": str(nps.pk), "q-show_if_values": "11"}),
    )
    assert response.status_code == 400 and b"not an answer of that question" in response.content
    assert survey.questions.count() == 5


def test_locked_question_edit_refused(client, marketer):
    from apps.surveys.models import Response

    survey = nps_survey()
    Response.objects.create(
        survey=survey, invitation=InvitationFactory(survey=survey), channel="email"
    )
    q = questions(survey)[1]
    client.force_login(marketer)
    response = client.post(
        url("survey-question-edit", pk=survey.pk, question=q.pk),
        _question_post(
            **{"q-type": QuestionType.RATING, "q-text_en": "Reworded", "q-required": "on"}
        ),
    )
    assert response.status_code == 400 and b"has responses" in response.content
    q.refresh_from_db()
    assert q.text_en == "Staff?"


def test_publish_refusal_is_shown(client, marketer):
    survey = SurveyFactory(status=SurveyStatus.DRAFT, kind=SurveyKind.CUSTOM)
    client.force_login(marketer)
    response = client.post(url("survey-status", pk=survey.pk), {"action": "publish"}, follow=True)
    assert b"Add at least one question." in response.content
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.DRAFT


def test_copy(client, manager):
    survey = nps_survey()
    client.force_login(manager)
    response = client.post(url("survey-copy", pk=survey.pk))
    copy = Survey.objects.get(copied_from=survey)
    assert response["Location"] == url("survey-questions", pk=copy.pk)
    assert copy.questions.count() == 5 and copy.status == SurveyStatus.DRAFT


def _members(n=3):
    customers = [CustomerFactory(email=f"m{i}@test.local") for i in range(n)]
    for c in customers:
        consent_surveys(c)
    return customers


def test_invite_by_tag(client, marketer):
    from apps.customers.models import Tag

    survey = nps_survey()
    tag = Tag.objects.create(name="panel")
    customers = _members(2)
    for c in customers:
        c.tags.add(tag)
    client.force_login(marketer)
    response = client.post(url("survey-invite", pk=survey.pk), {"tag": tag.pk})
    assert response.status_code == 200
    assert Invitation.objects.filter(survey=survey, status=InvitationStatus.SENT).count() == 2
    assert b'result-sent">2<' in response.content
    again = client.post(url("survey-invite", pk=survey.pk), {"tag": tag.pk})
    assert again.context["result"]["existing"] == 2 and again.context["result"]["sent"] == 0


def test_invite_to_a_draft_survey_is_refused_and_invites_nobody(client, marketer):
    from apps.customers.models import Tag

    survey = nps_survey(status=SurveyStatus.DRAFT)
    tag = Tag.objects.create(name="drafted")
    for c in _members(2):
        c.tags.add(tag)
    client.force_login(marketer)
    response = client.post(url("survey-invite", pk=survey.pk), {"tag": tag.pk})
    assert response.status_code == 400
    assert "Publish the survey before inviting anyone." in response.content.decode()
    assert not Invitation.objects.exists()


def test_agent_cannot_invite_and_nothing_is_written(client, agent):
    from apps.customers.models import Tag

    survey = nps_survey()
    tag = Tag.objects.create(name="agents-try")
    for c in _members(2):
        c.tags.add(tag)
    client.force_login(agent)
    assert client.post(url("survey-invite", pk=survey.pk), {"tag": tag.pk}).status_code == 403
    assert not Invitation.objects.exists()


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_invite_upload_names_the_survivor_of_a_merged_away_member(client, marketer):
    survey = nps_survey()
    survivor, merged = _members(2)
    merged.merged_into, merged.merged_at = survivor, timezone.now()
    merged.save(update_fields=["merged_into", "merged_at"])
    client.force_login(marketer)
    listing = f"{merged.member_number}\n".encode()
    response = client.post(
        url("survey-invite", pk=survey.pk), {"members": _upload("l.txt", listing)}
    )
    assert response.context["result"]["sent"] == 1
    assert Invitation.objects.get(survey=survey).customer_id == survivor.pk


def test_invite_by_upload_csv_and_xlsx(client, marketer):
    survey = nps_survey()
    a, b, c = _members(3)
    client.force_login(marketer)
    csv = f"member_number\n{a.member_number}\n{b.member_number}\n".encode()
    response = client.post(url("survey-invite", pk=survey.pk), {"members": _upload("l.csv", csv)})
    assert response.status_code == 200 and response.context["result"]["sent"] == 2
    wb = Workbook()
    wb.active.append([c.member_number])
    buf = io.BytesIO()
    wb.save(buf)
    response = client.post(
        url("survey-invite", pk=survey.pk), {"members": _upload("l.xlsx", buf.getvalue())}
    )
    assert response.context["result"]["sent"] == 1


def test_invite_upload_with_bad_row_invites_nobody(client, marketer):
    survey = nps_survey()
    (a,) = _members(1)
    client.force_login(marketer)
    text = f"{a.member_number}\n\n0000000000\n".encode()
    response = client.post(url("survey-invite", pk=survey.pk), {"members": _upload("l.txt", text)})
    assert response.status_code == 400
    assert "row 3, column A: no member with number 0000000000" in response.content.decode()
    assert Invitation.objects.count() == 0


def test_list_query_budget_independent_of_rows(client, manager, django_assert_max_num_queries):
    client.force_login(manager)

    def make(n):
        for _ in range(n):
            s = SurveyFactory()
            QuestionFactory(survey=s)
            InvitationFactory(survey=s)

    make(5)
    client.get(url("survey-list"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        assert client.get(url("survey-list")).status_code == 200
    make(25)
    with django_assert_max_num_queries(len(five)):
        response = client.get(url("survey-list"))
    assert len(response.context["page_obj"].object_list) == 30


def test_list_filters_by_status_and_shows_counts(client, agent):
    live = SurveyFactory(title_en="Live one")
    SurveyFactory(title_en="Draft one", status=SurveyStatus.DRAFT)
    InvitationFactory(survey=live)
    client.force_login(agent)
    response = client.get(url("survey-list"), {"status": "draft"})
    assert b"Draft one" in response.content and b"Live one" not in response.content
    row = client.get(url("survey-list")).context["page_obj"].object_list
    assert {s.title_en: s.invited_count for s in row} == {"Live one": 1, "Draft one": 0}


def test_hostile_text_is_escaped(client, manager):
    survey = SurveyFactory(title_en="<script>alert(1)</script>", status=SurveyStatus.DRAFT)
    QuestionFactory(survey=survey, text_en="<script>q()</script>", type=QuestionType.TEXT)
    client.force_login(manager)
    for page in (url("survey-list"), url("survey-questions", pk=survey.pk)):
        content = client.get(page).content.decode()
        assert "<script>alert(1)</script>" not in content and "&lt;script&gt;" in content
    assert (
        "<script>q()</script>"
        not in client.get(url("survey-questions", pk=survey.pk)).content.decode()
    )


def test_preview_frames_the_portal_page_with_language(client, marketer):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    client.force_login(marketer)
    response = client.get(url("survey-preview", pk=survey.pk), {"lang": "zh-hans"})
    assert response.status_code == 200 and response.context["lang"] == "zh-hans"
    assert client.get(url("survey-preview", pk=survey.pk), {"lang": "xx"}).context["lang"] == "en"


def test_settings_edit(client, marketer):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    client.force_login(marketer)
    response = client.post(
        url("survey-edit", pk=survey.pk),
        _survey_post(
            title_en="Renamed",
            trigger="after_purchase",
            trigger_channels=["web"],
            follow_up_detractors="on",
        ),
    )
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.title_en == "Renamed" and survey.trigger_channels == ["web"]
    assert survey.follow_up_detractors
    assert Question.objects.filter(survey=survey).count() == 5


def test_question_edit_page_shows_choices_and_only_earlier_questions_for_conditions(
    client, marketer
):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    nps, rating, yes_no, reason, _text = questions(survey)
    client.force_login(marketer)
    page = client.get(url("survey-question-edit", pk=survey.pk, question=reason.pk))
    assert page.status_code == 200 and b'value="shopping"' in page.content
    sources = list(page.context["form"].fields["show_if_question"].queryset)
    assert sources == [nps, rating, yes_no]


def test_agent_cannot_reorder(client, agent):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    before = questions(survey)
    client.force_login(agent)
    response = client.post(
        url("survey-questions-reorder", pk=survey.pk),
        {"order": [q.pk for q in reversed(before)]},
        content_type="application/json",
    )
    assert response.status_code == 403 and questions(survey) == before


def test_edit_choice_question_renames_and_adds_choices(client, marketer):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    reason = questions(survey)[3]
    client.force_login(marketer)
    data = _question_post(
        **{
            "q-type": QuestionType.SINGLE_CHOICE,
            "q-text_en": "Why did you come?",
            "choices-0-value": "shopping",
            "choices-0-label_en": "Shopping",
            "choices-1-value": "returns",
            "choices-1-label_en": "A return",
            "choices-2-value": "repair",
            "choices-2-label_en": "A repair",
        }
    )
    response = client.post(url("survey-question-edit", pk=survey.pk, question=reason.pk), data)
    assert response.status_code == 302
    reason.refresh_from_db()
    assert reason.text_en == "Why did you come?" and not reason.required
    assert [(c.value, c.label_en) for c in reason.choices.order_by("position")] == [
        ("shopping", "Shopping"),
        ("returns", "A return"),
        ("repair", "A repair"),
    ]

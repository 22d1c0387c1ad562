"""Answering surveys on the portal: the token link, the staff preview and /me/surveys/."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.surveys.enums import DisplayMode, QuestionType, SurveyStatus
from apps.surveys.models import Answer, Invitation, Response
from tests.surveys.factories import (
    ChoiceFactory,
    InvitationFactory,
    QuestionFactory,
    SurveyFactory,
    nps_survey,
    questions,
)

pytestmark = pytest.mark.django_db


def url(invitation) -> str:
    return reverse("portal:survey-answer", kwargs={"token": invitation.token})


def post(survey, nps="9", staff="4", extra=None) -> dict:
    """The form of ``nps_survey``: NPS, staff rating, and {question index: value} more."""
    q = questions(survey)
    data = {f"q{q[0].pk}": nps, f"q{q[1].pk}": staff}
    data.update({f"q{q[i].pk}": v for i, v in (extra or {}).items()})
    return data


@pytest.fixture
def invitation(db):
    inv = InvitationFactory(survey=nps_survey(reward_points=30))
    inv.customer.preferred_language = "en"
    inv.customer.save(update_fields=["preferred_language"])
    return inv


def test_page_renders_every_question_and_marks_opened(client, invitation):
    response = client.get(url(invitation))
    html = response.content.decode()
    assert response.status_code == 200
    assert "How likely are you to recommend us to a friend?" in html
    assert html.count('type="radio" name="q') >= 11 + 5 + 2 + 2
    assert "Not at all likely" in html and "Extremely likely" in html
    assert "js/survey.js" in html and "data-stepped" in html
    q5 = questions(invitation.survey)[4]
    assert f'data-show-if="q{questions(invitation.survey)[0].pk}"' in html
    assert 'data-show-if-values="0|1|2|3|4|5|6"' in html and f'id="q{q5.pk}"' in html
    assert "no-store" in response["Cache-Control"]
    invitation.refresh_from_db()
    assert invitation.opened_at is not None and invitation.started_at is None


def test_one_page_survey_is_not_stepped(client):
    inv = InvitationFactory(survey=nps_survey(display=DisplayMode.ONE_PAGE))
    assert "data-stepped" not in client.get(url(inv)).content.decode()


def test_every_question_type_is_stored(client, invitation):
    survey = invitation.survey
    multi = QuestionFactory(survey=survey, position=9, type=QuestionType.MULTI_CHOICE)
    ChoiceFactory(question=multi, value="a", position=1)
    ChoiceFactory(question=multi, value="b", position=2)
    data = post(survey, nps="3", staff="5", extra={2: "yes", 3: "returns", 4: "Queue was long"})
    data[f"q{multi.pk}"] = ["b", "a"]
    response = client.post(url(invitation), data)
    assert response.status_code == 200
    assert 'data-survey-state="thanks"' in response.content.decode()
    saved = Response.objects.get()
    q = questions(survey)
    by_q = {a.question_id: a for a in Answer.objects.filter(response=saved)}
    assert by_q[q[0].pk].number == 3 and by_q[q[1].pk].number == 5
    assert by_q[q[2].pk].number == 1 and by_q[q[3].pk].choices == ["returns"]
    assert by_q[q[4].pk].text == "Queue was long" and by_q[multi.pk].choices == ["a", "b"]
    assert saved.nps_score == 3


def test_hidden_conditional_answer_is_dropped_and_not_required(client, invitation):
    survey = invitation.survey
    q5 = questions(survey)[4]
    q5.required = True
    q5.save()
    response = client.post(url(invitation), post(survey, nps="10", extra={4: "ignored"}))
    assert 'data-survey-state="thanks"' in response.content.decode()
    assert not Answer.objects.filter(question=q5).exists()


def test_shown_required_conditional_question_must_be_answered(client, invitation):
    q5 = questions(invitation.survey)[4]
    q5.required = True
    q5.save()
    response = client.post(url(invitation), post(invitation.survey, nps="2"))
    html = response.content.decode()
    assert f'id="q{q5.pk}-error"' in html and Response.objects.count() == 0


def test_errors_are_in_chinese_for_a_chinese_member_and_values_are_kept(client, invitation):
    invitation.customer.preferred_language = "zh-hans"
    invitation.customer.save(update_fields=["preferred_language"])
    q = questions(invitation.survey)
    response = client.post(url(invitation), {f"q{q[0].pk}": "11", f"q{q[4].pk}": "x"})
    html = response.content.decode()
    assert response.status_code == 200 and Response.objects.count() == 0
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-Hans"' in html
    assert "您向朋友推荐我们的可能性有多大？" in html
    assert f'id="q{q[0].pk}-error"' in html and f'id="q{q[1].pk}-error"' in html
    assert f'aria-describedby="q{q[1].pk}-error"' in html
    # The messages come from apps.surveys.answering in the active language.
    from django.utils import translation

    from apps.surveys.answering import answers_clean

    with translation.override("zh-hans"):
        _c, expected = answers_clean(q, {str(q[0].pk): "11"})
    assert expected[q[0].pk] in html and expected[q[1].pk] in html


def test_language_switcher_choice_wins_over_preferred_language(client, invitation, settings):
    invitation.customer.preferred_language = "zh-hans"
    invitation.customer.save(update_fields=["preferred_language"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(url(invitation)).content.decode()
    assert "How likely are you to recommend us" in html
    assert "您向朋友推荐" in client.get(url(invitation) + "?lang=zh-hans").content.decode()


def test_entered_values_are_kept_on_error(client, invitation):
    q = questions(invitation.survey)
    data = post(invitation.survey, nps="4", staff="", extra={4: "kept text"})
    html = client.post(url(invitation), data).content.decode()
    assert re.search(rf'id="q{q[0].pk}-4" value="4"[^>]* checked', html)
    assert ">kept text</textarea>" in html
    # A refused submission writes nothing: no response, no answers, the link still open.
    invitation.refresh_from_db()
    assert not Response.objects.exists() and not Answer.objects.exists()
    assert invitation.completed_at is None


def test_hostile_text_is_stored_and_rendered_escaped(client, invitation):
    hostile = "<script>alert(1)</script>"
    client.post(url(invitation), post(invitation.survey, nps="1", extra={4: hostile}))
    assert Answer.objects.get(question=questions(invitation.survey)[4]).text == hostile
    other = InvitationFactory(survey=invitation.survey)
    data = post(invitation.survey, nps="1", staff="9", extra={4: hostile})
    html = client.post(url(other), data).content.decode()
    assert hostile not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_thanks_page_shows_message_and_points(client, invitation):
    survey = invitation.survey
    survey.thank_you_en = "Merci & see you soon"
    survey.save()
    html = client.post(url(invitation), post(survey)).content.decode()
    assert "Merci &amp; see you soon" in html
    assert "You earned 30 points." in html
    assert reverse("portal:overview") in html
    invitation.refresh_from_db()
    assert invitation.completed_at is not None


def test_already_answered_closed_expired_and_unknown_pages(client, invitation):
    client.post(url(invitation), post(invitation.survey))
    again = client.get(url(invitation))
    assert again.status_code == 200 and 'data-survey-state="answered"' in again.content.decode()
    resubmit = client.post(url(invitation), post(invitation.survey))
    assert 'data-survey-state="answered"' in resubmit.content.decode()
    assert Response.objects.count() == 1

    closed = InvitationFactory(survey=nps_survey(status=SurveyStatus.CLOSED))
    r = client.get(url(closed))
    assert r.status_code == 410 and 'data-survey-state="closed"' in r.content.decode()
    r = client.post(url(closed), post(closed.survey))
    assert r.status_code == 410 and Response.objects.count() == 1

    expired = InvitationFactory(
        survey=invitation.survey, expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    r = client.get(url(expired))
    assert r.status_code == 410 and 'data-survey-state="expired"' in r.content.decode()

    r = client.get(reverse("portal:survey-answer", kwargs={"token": "nope"}))
    assert r.status_code == 404 and 'data-survey-state="unknown"' in r.content.decode()


def test_started_ping_marks_started_once_and_needs_csrf(invitation):
    from django.test import Client

    started = reverse("portal:survey-started", kwargs={"token": invitation.token})
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(started).status_code == 403
    invitation.refresh_from_db()
    assert invitation.started_at is None
    ok = Client()
    assert ok.post(started).status_code == 204
    invitation.refresh_from_db()
    first = invitation.started_at
    assert first is not None and invitation.opened_at is not None
    ok.post(started)
    invitation.refresh_from_db()
    assert invitation.started_at == first
    assert ok.get(started).status_code == 405
    bad = reverse("portal:survey-started", kwargs={"token": "nope"})
    assert ok.post(bad).status_code == 404


def test_submissions_are_rate_limited_per_token(client, invitation, monkeypatch):
    from apps.portal.views import surveys as views

    monkeypatch.setattr(views, "SUBMITS_PER_TOKEN_PER_MINUTE", 2)
    for _ in range(2):
        assert client.post(url(invitation), {}).status_code == 200
    assert client.post(url(invitation), post(invitation.survey)).status_code == 429
    assert Response.objects.count() == 0


# --- preview -------------------------------------------------------------------------------------


def preview_url(survey, lang="") -> str:
    path = reverse("portal:survey-preview", kwargs={"pk": survey.pk})
    return f"{path}?lang={lang}" if lang else path


def test_preview_needs_view_permission(client, marketer, agent, member):
    survey = nps_survey(status=SurveyStatus.DRAFT)
    assert client.get(preview_url(survey)).status_code == 404
    client.force_login(member[0])
    assert client.get(preview_url(survey)).status_code == 404
    client.force_login(marketer)
    response = client.get(preview_url(survey))
    assert response.status_code == 200
    assert "Preview — answers are not saved" in response.content.decode()
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert "data-started-url" not in response.content.decode()
    assert client.get(reverse("portal:survey-preview", kwargs={"pk": 999999})).status_code == 404


def test_other_pages_still_refuse_framing(client, invitation):
    response = client.get(url(invitation))
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_preview_renders_language_and_stores_nothing(client, marketer):
    survey = nps_survey(status=SurveyStatus.DRAFT, reward_points=10)
    client.force_login(marketer)
    assert "您向朋友推荐" in client.get(preview_url(survey, "zh-hans")).content.decode()
    bad = client.post(preview_url(survey, "en"), {f"q{questions(survey)[0].pk}": "12"})
    assert f'id="q{questions(survey)[0].pk}-error"' in bad.content.decode()
    good = client.post(preview_url(survey, "en"), post(survey))
    html = good.content.decode()
    assert 'data-survey-state="thanks"' in html and "Preview — answers are not saved" in html
    assert Response.objects.count() == 0 and Answer.objects.count() == 0
    assert Invitation.objects.count() == 0


# --- /me/surveys/ --------------------------------------------------------------------------------


def test_my_surveys_lists_only_own_open_invitations(client, member, other_member):
    user, mine = member
    _o, theirs = other_member
    own = InvitationFactory(customer=mine, survey=SurveyFactory(title_en="Mine", reward_points=25))
    InvitationFactory(customer=theirs, survey=SurveyFactory(title_en="Theirs"))
    InvitationFactory(
        customer=mine,
        survey=SurveyFactory(title_en="Old"),
        expires_at=timezone.now() - dt.timedelta(days=1),
    )
    client.force_login(user)
    response = client.get(reverse("portal:surveys"))
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "Mine" in html and "Theirs" not in html and ">Old<" not in html
    assert url(own) in html and "+25 points" in html


def test_my_surveys_needs_login(client):
    response = client.get(reverse("portal:surveys"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_answered_surveys_show_date_and_points(client, member):
    user, mine = member
    inv = InvitationFactory(customer=mine, survey=nps_survey(title_en="Done one", reward_points=40))
    client.post(url(inv), post(inv.survey))
    client.force_login(user)
    html = client.get(reverse("portal:surveys")).content.decode()
    assert "Done one" in html and "+40" in html and url(inv) not in html


@pytest.mark.parametrize("n", [2, 20])
def test_my_surveys_query_budget(client, member, django_assert_max_num_queries, n):
    user, mine = member
    for _ in range(n):
        InvitationFactory(customer=mine, survey=SurveyFactory(reward_points=5))
    client.force_login(user)
    client.get(reverse("portal:surveys"))
    with django_assert_max_num_queries(12):
        assert client.get(reverse("portal:surveys")).status_code == 200


def test_answer_page_query_budget(client, django_assert_max_num_queries):
    inv = InvitationFactory(survey=nps_survey())
    with django_assert_max_num_queries(8):
        client.get(url(inv))

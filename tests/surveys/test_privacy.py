"""The surveys app's privacy sections: export, erasure that keeps the figures and cuts the
person out, and merging duplicates (including two invitations of the same survey and context)."""

import io
import json
import zipfile

import pytest
from django.utils import timezone

from apps.customers.services import customer_erase, customer_export, customer_merge
from apps.surveys.models import Answer, AskedMark, Invitation, Response
from apps.surveys.services.responses import response_submit
from tests.customers.factories import CustomerFactory
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db


def _answer(invitation, nps=3, staff=2, text="The manager Li Wei was rude to me"):
    q = questions(invitation.survey)
    answers = {str(q[0].pk): str(nps), str(q[1].pk): str(staff), str(q[2].pk): "yes"}
    answers[str(q[3].pk)] = "shopping"
    if nps <= 6:
        answers[str(q[4].pk)] = text
    return response_submit(invitation=invitation, answers=answers)


def _export(customer, actor) -> zipfile.ZipFile:
    _name, payload = customer_export(customer=customer, actor=actor)
    return zipfile.ZipFile(io.BytesIO(payload))


def test_export_holds_invitations_and_responses_with_their_answers(manager):
    customer = CustomerFactory()
    survey = nps_survey(slug="visit")
    answered = InvitationFactory(survey=survey, customer=customer, context="manual")
    InvitationFactory(survey=survey, customer=customer, context="order:1")
    _answer(answered, nps=4, staff=2, text="Queue too long")

    archive = _export(customer, manager)
    invitations = json.loads(archive.read("survey_invitations.json"))
    assert sorted(i["context"] for i in invitations) == ["manual", "order:1"]
    assert all("token" not in i and i["survey"] == "visit" for i in invitations)
    [response] = json.loads(archive.read("survey_responses.json"))
    assert (response["survey"], response["nps_score"], response["score_group"]) == (
        "visit",
        4,
        "detractor",
    )
    assert [a["value"] for a in response["answers"]] == [
        "4",
        "2",
        "Yes",
        "Shopping",
        "Queue too long",
    ]
    assert response["answers"][0]["question"] == "How likely are you to recommend us to a friend?"
    assert "survey_responses.csv" in archive.namelist()


def test_erasure_keeps_the_figures_cuts_the_link_and_blanks_texts_twice_safely(manager):
    customer, other = CustomerFactory(), CustomerFactory()
    survey = nps_survey()
    mine = InvitationFactory(survey=survey, customer=customer, context="manual")
    open_one = InvitationFactory(survey=survey, customer=customer, context="order:7")
    theirs = InvitationFactory(survey=survey, customer=other, context="manual")
    _answer(mine, nps=2, text="Li Wei at the counter was rude")
    _answer(theirs, nps=5, text="Too slow")
    before = (Response.objects.count(), Answer.objects.count())
    nps_before = sorted(Response.objects.values_list("nps_score", flat=True))

    customer_erase(customer=customer, actor=manager)

    assert (Response.objects.count(), Answer.objects.count()) == before
    assert sorted(Response.objects.values_list("nps_score", flat=True)) == nps_before
    assert not Response.objects.filter(customer=customer).exists()
    assert not Invitation.objects.filter(customer=customer).exists()
    mine.refresh_from_db()
    open_one.refresh_from_db()
    assert mine.customer_id is None and mine.order_id is None
    assert mine.context == f"erased:{mine.pk}" and open_one.context == f"erased:{open_one.pk}"
    texts = dict(
        Answer.objects.filter(question__type="text").values_list("response__nps_score", "text")
    )
    assert texts == {2: "(erased)", 5: "Too slow"}  # nobody else's words touched
    assert mine.response.answers.get(question__position=2).number == 2  # scores kept

    from apps.core import privacy

    privacy.erase_sections(customer=customer)  # again: nothing more changes
    assert (
        dict(
            Answer.objects.filter(question__type="text").values_list("response__nps_score", "text")
        )
        == texts
    )
    theirs.refresh_from_db()
    assert theirs.customer_id == other.pk and theirs.response.customer_id == other.pk


def test_merge_moves_invitations_and_responses_to_the_survivor(manager):
    source, target = CustomerFactory(), CustomerFactory()
    survey = nps_survey()
    answered = InvitationFactory(survey=survey, customer=source, context="order:1")
    InvitationFactory(survey=survey, customer=source, context="order:2")
    _answer(answered, nps=10)

    moved = customer_merge(source=source, target=target, actor=manager, reason="Same person")

    assert Invitation.objects.filter(customer=target).count() == 2
    assert Response.objects.get().customer_id == target.pk
    assert not Invitation.objects.filter(customer=source).exists()
    assert moved["survey_invitations.invitations"] == 2
    assert moved["survey_invitations.responses"] == 1


def test_merge_with_the_same_survey_and_context_keeps_both_without_breaking_the_key(manager):
    source, target = CustomerFactory(), CustomerFactory()
    survey = nps_survey()
    kept = InvitationFactory(survey=survey, customer=target, context="manual")
    answered = InvitationFactory(survey=survey, customer=source, context="manual")
    still_open = InvitationFactory(survey=nps_survey(), customer=source, context="manual")
    twin_open = InvitationFactory(survey=still_open.survey, customer=target, context="manual")
    _answer(answered, nps=9)
    collided_open = InvitationFactory(survey=survey, customer=source, context="ticket:5")
    InvitationFactory(survey=survey, customer=target, context="ticket:5")

    moved = customer_merge(source=source, target=target, actor=manager, reason="Same person")

    for invitation in (kept, answered, still_open, twin_open, collided_open):
        invitation.refresh_from_db()
        assert invitation.customer_id == target.pk
    assert kept.context == "manual" and twin_open.context == "manual"
    assert answered.context == f"manual~m{source.pk}"
    assert still_open.context == f"manual~m{source.pk}"
    assert collided_open.context == f"ticket:5~m{source.pk}"
    # An open duplicate is closed at the merge: the person answers that survey and context once.
    assert collided_open.expires_at <= timezone.now()
    assert still_open.expires_at <= timezone.now()
    assert answered.response.customer_id == target.pk
    assert moved["survey_invitations.invitations_renamed"] == 3
    assert Invitation.objects.filter(customer=target).count() == 6


def test_anonymous_answers_leave_a_mark_that_erasure_deletes_and_merging_moves(manager):
    source, target = CustomerFactory(), CustomerFactory()
    survey = nps_survey(anonymous=True)
    _answer(InvitationFactory(survey=survey, customer=source, context="manual"), nps=9)
    _answer(InvitationFactory(survey=survey, customer=target, context="manual"), nps=8)
    _answer(InvitationFactory(survey=survey, customer=source, context="order:3"), nps=7)

    export = json.loads(_export(source, manager).read("survey_invitations.json"))
    assert sorted((row["status"], row["context"]) for row in export) == [
        ("answered_anonymously", "manual"),
        ("answered_anonymously", "order:3"),
    ]

    customer_merge(source=source, target=target, actor=manager, reason="Same person")
    assert sorted(AskedMark.objects.values_list("customer_id", "context")) == [
        (target.pk, "manual"),  # the survivor's own mark stands for both
        (target.pk, "order:3"),
    ]

    customer_erase(customer=target, actor=manager)
    assert not AskedMark.objects.exists()
    assert Response.objects.count() == 3  # the answers stay for the figures

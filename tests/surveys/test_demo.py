"""The surveys part of ``seed_demo``: two live bilingual surveys, invitations issued through the
invitation service (consent, cooldown, sample), a believable spread of scores with staff
driving the NPS more than product, comments in both languages, and an open invitation for the
first demo member."""

import io
import statistics

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from apps.customers import demo
from apps.customers.models import Customer
from apps.surveys.enums import InvitationStatus, SurveyStatus, SurveyTrigger
from apps.surveys.models import Answer, Invitation, Response, Survey
from apps.surveys.selectors import invitation_list_open_for_member

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One seed for the module (the loyalty history replay is the slow part)."""
    from django.conf import settings
    from django.db import transaction

    with django_db_blocker.unblock():
        old = settings.DEBUG, settings.SETTINGS_MODULE
        settings.DEBUG, settings.SETTINGS_MODULE = True, "config.settings.dev"
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            call_command("seed_demo", customers=300, seed=42, stdout=io.StringIO())
            yield
        finally:
            atomic.__exit__(RuntimeError, RuntimeError("rollback"), None)
            settings.DEBUG, settings.SETTINGS_MODULE = old


def _pearson(xs, ys):
    return statistics.correlation(xs, ys)


def test_two_live_bilingual_surveys(seeded):
    nps = Survey.objects.get(slug="store-nps")
    csat = Survey.objects.get(slug="post-purchase")
    assert nps.status == csat.status == SurveyStatus.LIVE
    assert nps.title_en == "How likely are you to recommend us?" and nps.title_zh_hans
    assert (csat.trigger, csat.delay_days, csat.sample_percent) == (
        SurveyTrigger.AFTER_PURCHASE,
        1,
        30,
    )
    assert nps.questions.count() == 6 and all(q.text_zh_hans for q in nps.questions.all())


def test_responses_are_dated_in_the_past_with_a_believable_nps(seeded):
    nps = Survey.objects.get(slug="store-nps")
    responses = Response.objects.filter(survey=nps)
    assert responses.count() > 50
    assert not responses.filter(submitted_at__gte=demo._anchor()).exists()
    scores = list(responses.values_list("nps_score", flat=True))
    promoters = sum(s >= 9 for s in scores) / len(scores)
    detractors = sum(s <= 6 for s in scores) / len(scores)
    assert 5 <= 100 * (promoters - detractors) <= 55
    assert Response.objects.filter(survey__slug="post-purchase").exists()
    # Every response hangs on a completed invitation of the same member.
    assert not Response.objects.exclude(customer_id=F("invitation__customer_id")).exists()
    assert not Invitation.objects.filter(response__isnull=False, completed_at__isnull=True).exists()


def test_staff_drives_the_nps_more_than_product(seeded):
    nps = Survey.objects.get(slug="store-nps")
    q = {x.position: x.pk for x in nps.questions.all()}
    rows = {}
    for response_id, question_id, number in Answer.objects.filter(
        response__survey=nps, question_id__in=[q[1], q[2], q[3]]
    ).values_list("response_id", "question_id", "number"):
        rows.setdefault(response_id, {})[question_id] = number
    full = [r for r in rows.values() if len(r) == 3]
    score = [r[q[1]] for r in full]
    staff = _pearson(score, [r[q[2]] for r in full])
    product = _pearson(score, [r[q[3]] for r in full])
    assert staff > product > 0.1


def test_comments_in_both_languages_only_from_detractors(seeded):
    texts = Answer.objects.filter(response__survey__slug="store-nps", question__type="text")
    assert texts.exists()
    assert not texts.filter(response__nps_score__gte=7).exists()
    values = list(texts.values_list("text", flat=True))
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in values)
    assert any(t.isascii() for t in values)


def test_first_demo_member_has_an_open_invitation(seeded):
    member = Customer.objects.get(user__email="member1@example.com")
    [invitation] = invitation_list_open_for_member(customer=member)
    assert invitation.survey.slug == "store-nps" and invitation.status == InvitationStatus.SENT
    assert invitation.expires_at > timezone.now()
    assert member.survey_responses.exists()  # and answered earlier ones

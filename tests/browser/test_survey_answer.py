"""A member answers a one-per-screen NPS survey on a phone (390×844): keyboard and taps, a
detractor score reveals the follow-up question, thanks with the points earned; and the same
survey read in Chinese. Screenshots under var/screenshots/."""

import re

import pytest
from playwright.sync_api import expect

from apps.surveys.models import Answer, Response
from tests.browser.conftest import login, screenshot
from tests.conftest import enrolled_member
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_fits(page) -> None:
    """Nothing sticks out past the right edge of the 390 px screen."""
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect()"
        ".right > 391).map(e => e.tagName + '.' + e.className)"
    )
    assert wide == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.fixture
def invited():
    _user, customer = enrolled_member("nina@test.local", first_name="Nina")
    customer.preferred_language = "en"
    customer.save(update_fields=["preferred_language"])
    survey = nps_survey(
        reward_points=40,
        title_en="How was your visit?",
        title_zh_hans="您这次购物体验如何？",
        thank_you_en="Thanks, we read every answer.",
    )
    return InvitationFactory(survey=survey, customer=customer)


def test_member_answers_nps_survey_on_a_phone(invited, phone_page):
    page = phone_page
    login(page, "nina@test.local")
    page.wait_for_url(re.compile(r"/me/"))
    page.goto(page.base_url + "/me/surveys/")
    screenshot(page, "survey-phone-01-my-surveys")
    page.click(".survey-row__btn")
    page.wait_for_url(re.compile(r"/s/"))
    q = questions(invited.survey)
    first = page.locator(f"#q{q[0].pk}")
    expect(first).to_be_visible()
    expect(page.locator(f"#q{q[1].pk}")).to_be_hidden()
    expect(page.locator("[data-survey-progress-label]")).to_have_text("Question 1 of 4")
    assert_fits(page)
    screenshot(page, "survey-phone-02-nps")

    # Next without an answer: the step stays and says why.
    page.click("[data-survey-next]")
    expect(page.locator(f"#q{q[0].pk}-jserror")).to_be_visible()
    # Keyboard: focus the scale and move with the arrow keys to 3 (a detractor).
    page.locator(f"#q{q[0].pk}-0").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.locator(f"#q{q[0].pk}-3")).to_be_checked()
    expect(page.locator("[data-survey-progress-label]")).to_have_text("Question 1 of 5")
    screenshot(page, "survey-phone-03-nps-answered")
    page.click("[data-survey-next]")
    page.locator(f"label[for=q{q[1].pk}-2]").tap()
    screenshot(page, "survey-phone-04-rating")
    page.click("[data-survey-next]")
    page.click("[data-survey-next]")  # yes/no is optional
    page.click("[data-survey-next]")  # so is the visit reason
    text = page.locator(f"#q{q[4].pk}-input")
    expect(text).to_be_visible()
    text.fill("The queue was long.")
    expect(page.locator("[data-survey-submit]")).to_be_visible()
    screenshot(page, "survey-phone-05-follow-up")
    page.click("[data-survey-submit]")
    expect(page.locator("[data-survey-state=thanks]")).to_be_visible()
    expect(page.locator(".survey-reward")).to_contain_text("You earned 40 points.")
    screenshot(page, "survey-phone-06-thanks")

    response = Response.objects.get()
    assert response.nps_score == 3 and response.reward_points == 40
    assert Answer.objects.get(question=q[4]).text == "The queue was long."
    invited.refresh_from_db()
    assert invited.opened_at and invited.started_at and invited.completed_at


def test_survey_in_chinese_on_a_phone(invited, phone_page):
    page = phone_page
    invited.customer.preferred_language = "zh-hans"
    invited.customer.save(update_fields=["preferred_language"])
    page.goto(page.base_url + f"/s/{invited.token}/")
    expect(page.locator("h1")).to_have_text("您这次购物体验如何？")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    assert "您向朋友推荐我们的可能性有多大？" in page.content()
    screenshot(page, "survey-phone-07-zh-hans")
    assert_fits(page)

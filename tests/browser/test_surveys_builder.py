"""The survey builder in a real browser at 1440 px: a marketer builds an NPS survey with a
question shown only to detractors, reorders by dragging, and publishes it."""

import re

import pytest
from playwright.sync_api import expect

from apps.surveys.enums import SurveyStatus
from apps.surveys.models import Survey
from tests.browser.conftest import login, screenshot
from tests.conftest import with_verified_email

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_marketer_builds_and_publishes_an_nps_survey(marketer, page):
    with_verified_email(marketer)
    login(page, "marketer@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(f"{page.base_url}/staff/surveys/")
    screenshot(page, "surveys-builder-01-empty-list")
    page.get_by_role("link", name="New survey").first.click()
    page.fill("input[name=title_en]", "After your visit")
    page.fill("input[name=title_zh_hans]", "到店之后")
    page.select_option("select[name=kind]", "nps")
    page.check("input[name=invite_channels][value=email]")
    screenshot(page, "surveys-builder-02-create")
    page.click("button[type=submit]:has-text('Save')")
    expect(page.get_by_text("Survey created.")).to_be_visible()
    survey = Survey.objects.get()

    # A yes / no question, then a text question only for detractors (0–6).
    page.get_by_role("link", name="Add question").first.click()
    page.select_option("select[name=q-type]", "yes_no")
    page.fill("input[name=q-text_en]", "Did you find everything?")
    page.fill("input[name=q-text_zh_hans]", "您找到所需的一切了吗？")
    page.click("button[type=submit]:has-text('Save question')")
    expect(page.get_by_text("Question saved.")).to_be_visible()

    page.get_by_role("link", name="Add question").first.click()
    page.select_option("select[name=q-type]", "text")
    page.fill("input[name=q-text_en]", "What went wrong?")
    page.uncheck("input[name=q-required]")
    nps = survey.questions.get(measure="nps")
    page.select_option("select[name=q-show_if_question]", str(nps.pk))
    page.fill("input[name=q-show_if_values]", "0,1,2,3,4,5,6")
    screenshot(page, "surveys-builder-03-conditional-question")
    page.click("button[type=submit]:has-text('Save question')")
    expect(page.get_by_text("when Q1 is 0, 1, 2, 3, 4, 5, 6")).to_be_visible()

    # Drag the text question above the yes / no one.
    rows = page.locator("tr[data-question-id]")
    rows.nth(2).locator(".drag-handle").drag_to(rows.nth(1), target_position={"x": 10, "y": 2})
    expect(rows.nth(1)).to_contain_text("What went wrong?")
    page.wait_for_load_state()
    screenshot(page, "surveys-builder-04-questions")
    texts = list(survey.questions.order_by("position").values_list("text_en", flat=True))
    assert texts[1] == "What went wrong?", texts

    page.click("button[name=action][value=publish]")
    expect(page.get_by_text("Survey published.")).to_be_visible()
    screenshot(page, "surveys-builder-05-published")
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.LIVE

    page.goto(f"{page.base_url}/staff/surveys/")
    expect(page.locator("tr", has_text="After your visit")).to_contain_text("Live")
    screenshot(page, "surveys-builder-06-list")

    # The invitation page and the phone-sized preview frame.
    page.goto(f"{page.base_url}/staff/surveys/{survey.pk}/invite/")
    expect(page.get_by_role("button", name="Send invitations")).to_be_visible()
    screenshot(page, "surveys-builder-07-invite")
    page.goto(f"{page.base_url}/staff/surveys/{survey.pk}/preview/?lang=zh-hans")
    expect(page.locator(".btn-group .active")).to_have_text("简体中文")
    screenshot(page, "surveys-builder-08-preview")

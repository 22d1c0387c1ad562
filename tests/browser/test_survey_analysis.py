"""A marketer reads a survey's analysis in a real browser: the charts draw under the strict
Content-Security-Policy (no inline script), the trend has its interval band, and the responses
download as CSV."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login, screenshot
from tests.conftest import with_verified_email
from tests.surveys.analysis_data import bulk_responses, days_ago
from tests.surveys.factories import nps_survey

pytestmark = pytest.mark.django_db(transaction=True)


def test_marketer_reads_the_survey_analysis(marketer, store, page):
    with_verified_email(marketer)
    survey = nps_survey(slug="browser-nps")
    rows = []
    for i in range(60):
        score = i % 11
        row = {"nps": score, "staff": 1 + score * 4 // 10, "found": i % 2, "reason": "shopping"}
        row["at"] = days_ago(i % 40)
        row["store"] = store if i % 2 else None
        if score <= 6:
            row["text"] = f"<b>Queue</b> too long {i}"
        rows.append(row)
    bulk_responses(survey, rows)

    login(page, "marketer@test.local")
    page.wait_for_url(re.compile(r"/staff/"))
    page.goto(f"{page.base_url}/staff/surveys/{survey.pk}/")
    expect(page.get_by_test_id("responses")).to_have_text("60")
    expect(page.get_by_test_id("drivers")).to_be_visible()
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas[data-survey-trend]');"
        " return c && window.Chart && Chart.getChart(c) !== undefined"
        " && document.querySelectorAll('canvas[data-chart]').length > 1"
        " && Chart.getChart(document.querySelector('canvas[data-chart]')) !== undefined; }"
    )
    screenshot(page, "surveys-analysis-01-detail")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert download.value.suggested_filename.startswith("survey-browser-nps-responses-")

    page.goto(f"{page.base_url}/staff/surveys/{survey.pk}/answers/?group=detractor")
    expect(page.get_by_text("<b>Queue</b> too long 1", exact=True)).to_be_visible()
    screenshot(page, "surveys-analysis-02-answers")

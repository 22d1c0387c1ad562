import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.surveys.analysis import SUMMARY_KEYS, survey_summary
from tests.surveys.analysis_data import bulk_responses, days_ago
from tests.surveys.factories import nps_survey

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("survey_stats", *args, stdout=out)
    return out.getvalue()


def test_json_has_exactly_the_contract_keys_and_the_selector_numbers():
    survey = nps_survey(slug="store-nps")
    bulk_responses(survey, [{"nps": 10}] * 5 + [{"nps": 8}] * 3 + [{"nps": 1}] * 2)
    data = json.loads(_run("store-nps", "--json"))
    assert list(data) == list(SUMMARY_KEYS)
    assert data == survey_summary(survey=survey).as_dict()
    assert data["nps"] == 30.0 and data["promoters"] == 5 and data["invited"] == 10
    assert data["csat"] is None and data["ces"] is None


def test_since_filters_and_readable_output():
    survey = nps_survey(slug="since-nps")
    bulk_responses(survey, [{"nps": 10, "at": days_ago(1)}])
    bulk_responses(survey, [{"nps": 0, "at": days_ago(60)}])
    since = days_ago(7).date().isoformat()
    assert json.loads(_run("since-nps", "--since", since, "--json"))["responses"] == 1
    text = _run("since-nps")
    assert "since-nps" in text and "nps" in text


def test_unknown_slug_and_bad_date_fail():
    nps_survey(slug="known")
    with pytest.raises(CommandError, match="No survey"):
        _run("nope", "--json")
    with pytest.raises(CommandError, match="not a date"):
        _run("known", "--since", "2026-13-45", "--json")
    with pytest.raises(CommandError, match="not a date"):
        _run("known", "--since", "yesterday")

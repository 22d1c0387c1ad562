"""The survey analysis page, its text answers and exports: permissions (an agent sees the
figures but not what identified members wrote), 404s, query budgets that do not grow with the
responses, CSV / XLSX content with hostile text made inert, and the audit row of each export."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from apps.core.models import AuditEvent
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import TierFactory
from tests.surveys.analysis_data import bulk_responses
from tests.surveys.factories import nps_survey

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("http://evil.example","x") <script>alert(1)</script>'


def _rows(n: int, store=None, tier=None) -> list[dict]:
    rows = []
    for i in range(n):
        score = i % 11
        row = {"nps": score, "staff": 1 + score * 4 // 10, "found": i % 2, "reason": "shopping"}
        if score <= 6:
            row["text"] = f"answer {i}"
        row["store"], row["tier"] = store, tier
        rows.append(row)
    return rows


@pytest.fixture
def survey(store):
    survey = nps_survey(slug="analysis")
    tier = TierFactory(slug="gold")
    customer = CustomerFactory()
    rows = _rows(11, store=store, tier=tier)
    rows[0]["text"] = HOSTILE
    bulk_responses(survey, rows, customer=customer)
    return survey


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body)))


def _detail(survey):
    return reverse("dashboard:survey-detail", args=[survey.pk])


def _answers(survey):
    return reverse("dashboard:survey-answers", args=[survey.pk])


def test_detail_shows_figures_charts_and_methods(client, marketer, survey):
    client.force_login(marketer)
    response = client.get(_detail(survey))
    assert response.status_code == 200
    html = response.content.decode()
    headline = response.context["headline"]
    assert headline["responses"] == 11 and headline["csat"] is None
    assert 'data-testid="nps"' in html and "adjusted-Wald" in html and "Wilson" in html
    assert 'id="trend-data"' in html and 'data-survey-trend="trend-data"' in html
    assert 'data-testid="breakdown-tier"' in html and "Gold" in html
    assert "<script>alert" not in html  # no text answers on this page, and none unescaped
    assert 'data-testid="export-csv"' in html


def test_unknown_survey_is_404_and_anonymous_user_is_sent_to_log_in(client, marketer, survey):
    response = client.get(_detail(survey))
    assert response.status_code == 302
    client.force_login(marketer)
    assert client.get(reverse("dashboard:survey-detail", args=[survey.pk + 999])).status_code == 404
    assert (
        client.get(reverse("dashboard:survey-answers", args=[survey.pk + 999])).status_code == 404
    )


def test_member_without_staff_is_refused(client, member_user, survey):
    client.force_login(member_user)
    assert client.get(_detail(survey)).status_code == 403


def test_agent_sees_figures_but_not_identified_text(client, agent, survey):
    client.force_login(agent)
    assert client.get(_detail(survey)).status_code == 200
    response = client.get(_answers(survey))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="text-hidden"' in html and "answer 1" not in html
    assert 'data-testid="export-csv"' not in client.get(_detail(survey)).content.decode()


def test_agent_reads_text_of_an_anonymous_survey(client, agent):
    anonymous = nps_survey(anonymous=True)
    bulk_responses(anonymous, [{"nps": 2, "staff": 1, "text": "cold coffee"}])
    client.force_login(agent)
    assert "cold coffee" in client.get(_answers(anonymous)).content.decode()


def test_answers_escape_search_and_filter(client, marketer, survey):
    client.force_login(marketer)
    html = client.get(_answers(survey)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = client.get(_answers(survey), {"q": "answer 3"}).content.decode()
    assert "answer 3" in html and "answer 4" not in html
    page = client.get(_answers(survey), {"group": "promoter"}).context["page_obj"]
    assert page.paginator.count == 0


def test_agent_cannot_export(client, agent, survey):
    client.force_login(agent)
    for fmt in ("csv", "xlsx"):
        url = reverse("dashboard:survey-export", args=[survey.pk, fmt])
        assert client.get(url).status_code == 403
    url = reverse("dashboard:survey-report-export", args=[survey.pk, "drivers", "csv"])
    assert client.get(url).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="export.survey").exists()


def test_responses_csv_has_questions_member_and_inert_formulas(client, marketer, survey):
    client.force_login(marketer)
    response = client.get(reverse("dashboard:survey-export", args=[survey.pk, "csv"]))
    assert response.status_code == 200
    rows = _csv(response)
    header = rows[0]
    assert header[:6] == ["Submitted", "Channel", "Store", "Tier", "NPS group", "Member number"]
    assert (
        "How likely are you to recommend us to a friend?" in header and "What went wrong?" in header
    )
    assert len(rows) == 12
    texts = [r[header.index("What went wrong?")] for r in rows[1:]]
    assert "'" + HOSTILE in texts
    assert rows[1][3] == "Gold" and rows[1][5]
    event = AuditEvent.objects.get(action="export.survey_responses")
    assert event.actor == marketer and event.after["rows"] == 11
    assert event.after["filters"]["survey"] == "analysis"


def test_responses_xlsx_text_stays_text_in_chinese(client, marketer, survey):
    client.force_login(marketer)
    url = reverse("dashboard:survey-export", args=[survey.pk, "xlsx"])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(ws.iter_rows(values_only=False))
    header = [c.value for c in rows[0]]
    assert "您向朋友推荐我们的可能性有多大？" in header
    hostile = [c for row in rows[1:] for c in row if c.value == HOSTILE]
    assert hostile and hostile[0].data_type == "s" and hostile[0].quotePrefix
    assert AuditEvent.objects.filter(action="export.survey_responses").count() == 1


def test_anonymous_survey_export_has_no_member_column(client, marketer):
    anonymous = nps_survey(anonymous=True)
    bulk_responses(anonymous, [{"nps": 9, "staff": 5}])
    client.force_login(marketer)
    header = _csv(client.get(reverse("dashboard:survey-export", args=[anonymous.pk, "csv"])))[0]
    assert "Member number" not in header


@pytest.mark.parametrize(
    "table", ["summary", "funnel", "distribution", "trend", "tier", "store", "channel", "drivers"]
)
def test_every_table_exports_and_is_audited(client, marketer, survey, table):
    client.force_login(marketer)
    response = client.get(reverse("dashboard:survey-report-export", args=[survey.pk, table, "csv"]))
    assert response.status_code == 200 and len(_csv(response)) >= 2
    xlsx = client.get(reverse("dashboard:survey-report-export", args=[survey.pk, table, "xlsx"]))
    assert xlsx.status_code == 200
    events = AuditEvent.objects.filter(action="export.survey_report")
    assert events.count() == 2 and events.first().after["table"] == table


def _grow(survey, store, n):
    bulk_responses(survey, _rows(n, store=store))


def test_query_budget_does_not_grow_with_responses(client, marketer, survey, store, count_queries):
    client.force_login(marketer)
    small = {url: count_queries(client, url) for url in (_detail(survey), _answers(survey))}
    _grow(survey, store, 500)
    large = {url: count_queries(client, url) for url in (_detail(survey), _answers(survey))}
    assert small == large
    with_filters = _detail(survey) + "?since=2020-01-01&by=month"
    assert count_queries(client, with_filters) == large[_detail(survey)]


def test_query_budget_max(client, marketer, survey, store, django_assert_max_num_queries):
    client.force_login(marketer)
    _grow(survey, store, 500)
    with django_assert_max_num_queries(30):
        assert client.get(_detail(survey)).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(_answers(survey)).status_code == 200


def test_csat_and_ces_survey_without_nps_renders_its_cards(client, manager):
    from apps.surveys.enums import Measure, QuestionType
    from tests.surveys.factories import QuestionFactory, SurveyFactory

    survey = SurveyFactory(kind="csat")
    QuestionFactory(survey=survey, type=QuestionType.RATING, measure=Measure.CSAT)
    QuestionFactory(survey=survey, type=QuestionType.RATING, measure=Measure.CES)
    bulk_responses(survey, [{"csat": 5, "ces": 2}, {"csat": 2, "ces": 4}])
    client.force_login(manager)
    response = client.get(_detail(survey), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="csat"' in html and 'data-testid="ces"' in html
    assert 'data-testid="nps"' not in html
    assert response.context["trend_chart"]["value"] == [50.0]


def test_export_without_text_permission_leaves_out_member_and_text(client, survey):
    from django.contrib.auth.models import Permission

    from tests.accounts.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="surveys", codename__in=["view_survey", "export_responses"]
        )
    )
    client.force_login(user)
    rows = _csv(client.get(reverse("dashboard:survey-export", args=[survey.pk, "csv"])))
    header = rows[0]
    assert "Member number" not in header
    assert all(row[header.index("What went wrong?")] == "" for row in rows[1:])
    assert 'data-testid="text-hidden"' in client.get(_answers(survey)).content.decode()

"""Customer value pages: the weekly at-risk list (reasons in words, "came back", week choice,
assignment, export), the model page, and the metrics panel of the customer 360 page; refusals
change nothing, and the at-risk page costs the same number of queries with 5 or 25 entries."""

import csv
import datetime as dt
import io
from decimal import Decimal

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext
from openpyxl import load_workbook

from apps.accounts.roles import SUPPORT_AGENT
from apps.analytics.models import AtRiskEntry, CustomerMetrics, ModelFit
from apps.analytics.services.at_risk import at_risk_build, week_of
from apps.analytics.stats.churn import churn_model_fit
from apps.analytics.summary import day_start
from apps.core.models import AuditEvent
from apps.customers.models import Interaction
from tests.accounts.factories import UserFactory
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

OVERDUE = [{"code": "overdue", "days": 143, "usual": 30}]
OVERDUE_TEXT = "no purchase for 143 days, usually every 30"
WEEK = week_of(timezone.localdate()) - dt.timedelta(days=14)  # a settled week, two weeks back
EARLIER = WEEK - dt.timedelta(days=7)


def url(name, **kwargs):
    return reverse(f"dashboard:{name}", kwargs=kwargs)


def _metrics(customer, **over) -> CustomerMetrics:
    now = timezone.now()
    values = {
        "as_of": now.date(),
        "computed_at": now,
        "orders": 4,
        "spend": Decimal("800.00"),
        "frequency": 3,
        "monetary": Decimal("200.00"),
        "rfm_segment": "at_risk",
        "r_score": 1,
        "f_score": 4,
        "m_score": 4,
        "p_alive": 0.2,
        "expected_purchases": 0.4,
        "predicted_clv": Decimal("900.00"),
        "churn_risk": 0.85,
        "churn_band": "high",
        "band_since": now.date(),
        "health_score": 23,
        "reasons": OVERDUE,
    }
    return CustomerMetrics.objects.create(customer=customer, **{**values, **over})


def _entry(customer=None, week=WEEK, **over) -> AtRiskEntry:
    customer = customer or CustomerFactory()
    values = {
        "churn_risk": 0.85,
        "predicted_clv": Decimal("900.00"),
        "health_score": 23,
        "reasons": OVERDUE,
        "action": "call",
    }
    return AtRiskEntry.objects.create(week=week, customer=customer, **{**values, **over})


def _entries(n: int, week=WEEK) -> list[AtRiskEntry]:
    return [
        _entry(predicted_clv=Decimal(1000 + i), reasons=[{"code": "no_orders"}], week=week)
        for i in range(n)
    ]


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


def _sheet(response):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return load_workbook(io.BytesIO(content)).active


# --- the at-risk list ----------------------------------------------------------------------------


def test_manager_reads_the_weeks_list_with_reasons_and_returns(client, manager, store):
    back = _entry(CustomerFactory(first_name="Bea", last_name="Back"))
    away = _entry(CustomerFactory(first_name="Al", last_name="Away"), action="winback")
    # Bea bought after the week began; Al only before it (and a refund after it counts not).
    OrderFactory(customer=back.customer, store=store, placed_at=day_start(WEEK) + dt.timedelta(1))
    OrderFactory(customer=away.customer, store=store, placed_at=day_start(WEEK) - dt.timedelta(1))
    OrderFactory(
        customer=away.customer,
        store=store,
        placed_at=day_start(WEEK) + dt.timedelta(2),
        status="refunded",
    )
    client.force_login(manager)
    response = client.get(url("at-risk"), {"week": WEEK.isoformat()})
    assert response.status_code == 200
    assert response.context["week"] == WEEK
    entries = {e.pk: e for e in response.context["entries"]}
    assert set(entries) == {back.pk, away.pk}
    assert entries[back.pk].came_back and not entries[away.pk].came_back
    assert response.context["came_back"] == 1
    assert entries[away.pk].reason_lines == [OVERDUE_TEXT]
    body = response.content.decode()
    assert OVERDUE_TEXT in body
    assert body.count('class="badge text-bg-success">came back<') == 1
    assert "Win-back journey" in body and "Call them" in body
    assert back.customer.member_number in body and away.customer.member_number in body


def test_the_latest_week_is_shown_by_default_and_another_can_be_chosen(client, manager):
    old = _entry(week=EARLIER)
    new = _entry(week=WEEK)
    client.force_login(manager)
    latest = client.get(url("at-risk"))
    assert latest.context["week"] == WEEK
    assert [e.pk for e in latest.context["entries"]] == [new.pk]
    assert latest.context["weeks"] == [WEEK, EARLIER]
    # Any day of a week selects that week (its Monday).
    chosen = client.get(url("at-risk"), {"week": (EARLIER + dt.timedelta(days=3)).isoformat()})
    assert chosen.context["week"] == EARLIER
    assert [e.pk for e in chosen.context["entries"]] == [old.pk]
    # A week nobody was listed in is an empty list, a nonsense date the latest week.
    empty = client.get(url("at-risk"), {"week": (WEEK - dt.timedelta(days=70)).isoformat()})
    assert empty.status_code == 200 and empty.context["entries"] == []
    bad = client.get(url("at-risk"), {"week": "2026-13-45"})
    assert bad.status_code == 200 and bad.context["week"] == WEEK


def test_agent_reads_the_list_without_the_assign_form(client, agent):
    _entry()
    client.force_login(agent)
    response = client.get(url("at-risk"))
    assert response.status_code == 200
    assert response.context["assignees"] == []
    assert "/assign/" not in response.content.decode()


def test_anonymous_is_sent_to_login(client):
    response = client.get(url("at-risk"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_weekly_build_fills_the_list(client, manager):
    listed = CustomerFactory()
    _metrics(listed, predicted_clv=Decimal("5000.00"))
    _metrics(CustomerFactory(), churn_band="low", churn_risk=0.1)
    week = week_of(timezone.localdate())
    assert at_risk_build(week=week) == 1
    client.force_login(manager)
    response = client.get(url("at-risk"))
    assert [e.customer_id for e in response.context["entries"]] == [listed.pk]
    assert OVERDUE_TEXT in response.content.decode()


# --- assignment ----------------------------------------------------------------------------------


def test_manager_assigns_an_entry_to_an_agent(client, manager, agent):
    entry = _entry()
    client.force_login(manager)
    response = client.post(url("at-risk-assign", pk=entry.pk), {"assignee": agent.pk})
    assert response.status_code == 302
    assert response["Location"] == url("at-risk") + f"?week={WEEK.isoformat()}"
    entry.refresh_from_db()
    assert entry.assigned_to == agent and entry.assigned_at is not None
    task = Interaction.objects.get(customer=entry.customer)
    assert task.kind == "task" and task.author == manager
    assert "Ann Agent" in task.summary and "call them" in task.summary
    event = AuditEvent.objects.get(action="analytics.at_risk_assign")
    assert event.actor == manager and event.target_id == str(entry.customer.pk)
    assert event.after == {"week": WEEK.isoformat(), "assigned_to": agent.pk}
    page = client.get(response["Location"])
    assert "Ann Agent" in page.content.decode()


@pytest.mark.parametrize("role", ["agent", "marketer"])
def test_assign_is_refused_without_change_permission(client, request, manager, role):
    assignee = make_staff(SUPPORT_AGENT, email="bo@test.local", full_name="Bo Agent")
    user = request.getfixturevalue(role)
    entry = _entry()
    client.force_login(user)
    response = client.post(url("at-risk-assign", pk=entry.pk), {"assignee": assignee.pk})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.assigned_to is None and entry.assigned_at is None
    assert not Interaction.objects.exists()
    assert not AuditEvent.objects.filter(action="analytics.at_risk_assign").exists()


def test_assigning_someone_not_staff_is_refused(client, manager):
    outsider = UserFactory(email="outsider@test.local", is_staff=False)
    outsider.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    entry = _entry()
    client.force_login(manager)
    response = client.post(
        url("at-risk-assign", pk=entry.pk), {"assignee": outsider.pk}, follow=True
    )
    assert response.status_code == 200
    assert "Choose someone to assign." in response.content.decode()
    entry.refresh_from_db()
    assert entry.assigned_to is None
    assert not Interaction.objects.exists()
    assert not AuditEvent.objects.filter(action="analytics.at_risk_assign").exists()


def test_assigning_an_unknown_entry_is_not_found(client, manager, agent):
    client.force_login(manager)
    response = client.post(url("at-risk-assign", pk=999999), {"assignee": agent.pk})
    assert response.status_code == 404


# --- export --------------------------------------------------------------------------------------


def test_export_csv_is_the_weeks_list_and_audited(client, manager):
    entry = _entry(CustomerFactory(first_name="Bea", last_name="Back"))
    _entry(week=EARLIER)
    client.force_login(manager)
    response = client.get(url("at-risk-export"), {"week": WEEK.isoformat(), "format": "csv"})
    assert response.status_code == 200
    rows = _csv(response)
    assert rows[0][0] == "Member number" and "Reasons" in rows[0]
    assert [r[0] for r in rows[1:]] == [entry.customer.member_number]
    assert rows[1][rows[0].index("Reasons")] == OVERDUE_TEXT
    event = AuditEvent.objects.get(action="export.at_risk")
    assert event.actor == manager
    assert event.after["format"] == "csv" and event.after["rows"] == 1
    assert event.after["filters"] == {"week": WEEK.isoformat()}


def test_export_xlsx_is_the_weeks_list_and_audited(client, marketer):
    entries = _entries(3)
    client.force_login(marketer)
    response = client.get(url("at-risk-export"), {"week": WEEK.isoformat(), "format": "xlsx"})
    assert response.status_code == 200
    ws = _sheet(response)
    numbers = [str(row[0]) for row in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(numbers) == sorted(e.customer.member_number for e in entries)
    event = AuditEvent.objects.get(action="export.at_risk")
    assert event.after["format"] == "xlsx" and event.after["rows"] == 3


def test_export_needs_the_view_permission(client, member):
    _entry()
    client.force_login(member[0])
    assert client.get(url("at-risk-export")).status_code == 403
    assert not AuditEvent.objects.filter(action="export.at_risk").exists()


# --- the model page ------------------------------------------------------------------------------


def _churn_json() -> dict:
    """A churn model fitted on 200 synthetic customers (5 features, clear signal)."""
    rng = np.random.default_rng(7)
    X = np.abs(rng.normal(1.0, 0.6, size=(200, 5)))
    score = 2.0 * X[:, 0] - 1.5 * X[:, 3] + rng.normal(0, 0.5, size=200)
    y = (score > np.median(score)).astype(int)
    baseline = X[:, 0] + rng.normal(0, 1.0, size=200)
    return churn_model_fit(X, y, baseline).to_json()


def _fit(churn=None) -> ModelFit:
    return ModelFit.objects.create(
        as_of=timezone.localdate(),
        fitted_at=timezone.now(),
        customers=200,
        bgnbd={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
        gamma_gamma={"p": 6.25, "q": 3.74, "v": 15.44, "log_likelihood": -4000.0},
        churn=churn,
        expected_repeat_purchases=321.0,
        horizon_days=90,
        seconds=1.5,
    )


def test_model_page_without_a_fit_shows_the_empty_state(client, marketer):
    client.force_login(marketer)
    response = client.get(url("analytics-model"))
    assert response.status_code == 200
    assert response.context["fit"] is None
    body = response.content.decode()
    assert "Not fitted yet" in body and 'data-testid="auc"' not in body


def test_model_page_shows_the_auc_and_the_baseline(client, marketer):
    churn = _churn_json()
    _fit(churn)
    client.force_login(marketer)
    response = client.get(url("analytics-model"))
    assert response.status_code == 200
    assert response.context["churn"].auc == pytest.approx(churn["auc"])
    body = response.content.decode()
    assert f'data-testid="auc">{churn["auc"]:.3f}<' in body
    assert f'data-testid="baseline-auc">{churn["baseline_auc"]:.3f}<' in body
    assert 'data-testid="verdict"' in body and 'data-testid="coefficients"' in body
    assert "BG/NBD expected purchases (log)" in body  # feature names in words
    assert len(response.context["folds"]) == 5
    assert "0.243, 4.414" in body and "6.25, 3.74" in body  # BG/NBD r, α and Gamma-Gamma p, q


def test_model_page_with_a_refused_churn_model(client, manager):
    _fit({"refused": "too few samples per class"})
    client.force_login(manager)
    response = client.get(url("analytics-model"))
    assert response.status_code == 200 and response.context["churn"] is None
    body = response.content.decode()
    assert "Not enough history to back-test a churn model yet" in body
    assert "too few samples per class" in body


def test_agent_cannot_open_the_model_page(client, agent):
    _fit(_churn_json())
    client.force_login(agent)
    assert client.get(url("analytics-model")).status_code == 403


# --- the 360 page's metrics panel ----------------------------------------------------------------


def test_agent_sees_the_metrics_panel_on_the_360_page(client, agent, customer):
    _metrics(customer, health_score=23, reasons=OVERDUE)
    client.force_login(agent)
    response = client.get(url("customer-detail", member_number=customer.member_number))
    assert response.status_code == 200
    assert response.context["metrics_reasons"] == [OVERDUE_TEXT]
    body = response.content.decode()
    assert 'data-testid="metrics-panel"' in body
    assert 'data-testid="health-score"' in body and '<span class="tabular">23</span>' in body
    assert "health-poor" in body
    assert OVERDUE_TEXT in body


def test_metrics_panel_without_metrics_says_not_computed(client, agent, customer):
    client.force_login(agent)
    response = client.get(url("customer-detail", member_number=customer.member_number))
    body = response.content.decode()
    assert 'data-testid="metrics-panel"' in body
    assert "Not computed yet" in body and 'data-testid="health-score"' not in body


@pytest.mark.parametrize("how", ["cookie", "header"])
def test_metrics_panel_in_chinese(client, agent, customer, settings, how):
    _metrics(customer, health_score=23, reasons=OVERDUE)
    client.force_login(agent)
    kwargs = {}
    if how == "cookie":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    else:
        kwargs["headers"] = {"Accept-Language": "zh-hans"}
    response = client.get(url("customer-detail", member_number=customer.member_number), **kwargs)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="health-score"' in body
    with translation.override("zh-hans"):
        words = ngettext(
            "no purchase for %(days)s day, usually every %(usual)s",
            "no purchase for %(days)s days, usually every %(usual)s",
            143,
        ) % {"days": 143, "usual": 30}
        title = translation.gettext("Customer value")
    if words != OVERDUE_TEXT:  # only once the catalogue has the reason in Chinese
        assert words in body and OVERDUE_TEXT not in body
    if title != "Customer value":
        assert title in body


# --- query budget --------------------------------------------------------------------------------

# Measured: session, user, permissions, the Administration link, the weeks, the entries, the
# settings, and two counts for the one earlier week shown beside this one.
AT_RISK_BUDGET = 15
# With the assign form: the staff who can be assigned, read once (a count and the rows at most).
AT_RISK_ASSIGN_BUDGET = AT_RISK_BUDGET + 2


def _assigned(entries, user) -> None:
    AtRiskEntry.objects.filter(pk__in=[e.pk for e in entries]).update(assigned_to=user)


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_at_risk_page_budget_with_assigned_entries(
    client, request, agent, count_queries, django_assert_max_num_queries, role
):
    """Every entry already assigned (or a reader without the assign form): no per-row query."""
    client.force_login(request.getfixturevalue(role))
    page = url("at-risk") + f"?week={WEEK.isoformat()}"
    _entries(2, week=EARLIER)
    _assigned(_entries(5), agent)
    few = count_queries(client, page)
    _assigned(_entries(20), agent)
    assert count_queries(client, page) == few
    with django_assert_max_num_queries(AT_RISK_BUDGET):
        response = client.get(page)
    assert len(response.context["entries"]) == 25


def test_at_risk_page_budget_with_unassigned_entries(
    client, manager, count_queries, django_assert_max_num_queries
):
    client.force_login(manager)
    page = url("at-risk") + f"?week={WEEK.isoformat()}"
    _entries(2, week=EARLIER)
    _entries(5)
    few = count_queries(client, page)
    _entries(20)
    assert count_queries(client, page) == few
    with django_assert_max_num_queries(AT_RISK_ASSIGN_BUDGET):
        response = client.get(page)
    assert len(response.context["entries"]) == 25

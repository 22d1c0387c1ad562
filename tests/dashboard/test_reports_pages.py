"""Scheduled reports pages (/staff/kpi/reports/): who may use them, subscribing, refusals shown on
the form with nothing written, edit, delete, "send now to me", the link from the KPI page and the
list's query budget. The sending itself is tested in tests/analytics/test_report_subscriptions.py."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from apps.accounts.roles import MANAGER
from apps.analytics.enums import ReportKind
from apps.analytics.models import ReportSubscription
from apps.analytics.services.reports import report_subscription_create
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db

LIST = "/staff/kpi/reports/"
FORM = {
    "report": "kpi",
    "frequency": "weekly",
    "weekday": "0",
    "day_of_month": "",
    "hour": "8",
    "role": "",
    "addresses": "boss@example.org\nceo@example.org",
    "language": "zh-hans",
    "active": "on",
}


@pytest.fixture(autouse=True)
def _no_default_subscription():
    ReportSubscription.objects.all().delete()


def subscription(**over):
    values = {
        "actor": None,
        "report": ReportKind.KPI,
        "frequency": "weekly",
        "weekday": 0,
        "hour": 8,
        "addresses": ["boss@example.org"],
        **over,
    }
    return report_subscription_create(**values)


def test_the_url_names():
    assert reverse("dashboard:report-subscription-list") == LIST
    assert reverse("dashboard:report-subscription-create") == LIST + "new/"
    assert reverse("dashboard:report-subscription-update", args=[3]) == LIST + "3/edit/"
    assert reverse("dashboard:report-subscription-delete", args=[3]) == LIST + "3/delete/"


@pytest.mark.parametrize("who", ["agent", "marketer"])
def test_agents_and_marketers_are_refused(client, request, who):
    client.force_login(request.getfixturevalue(who))
    sub = subscription()
    for url in (
        LIST,
        LIST + "new/",
        LIST + f"{sub.pk}/edit/",
        LIST + f"{sub.pk}/delete/",
    ):
        assert client.get(url).status_code == 403
    assert client.post(LIST + "new/", FORM).status_code == 403
    assert client.post(LIST + f"{sub.pk}/delete/").status_code == 403
    assert client.post(LIST + f"{sub.pk}/send-test/").status_code == 403
    assert ReportSubscription.objects.count() == 1 and mail.outbox == []


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_manager_sees_the_list_and_the_kpi_page_links_to_it(client, manager):
    subscription(role=Group.objects.get(name=MANAGER), addresses=[])
    client.force_login(manager)
    page = client.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "KPI summary" in html and "Every Monday at 08:00" in html and "Manager" in html
    assert 'data-testid="report-send-test"' in html
    assert (
        reverse("dashboard:report-subscription-list") in client.get("/staff/kpi/").content.decode()
    )


def test_a_manager_subscribes_addresses(client, manager):
    client.force_login(manager)
    assert client.get(LIST + "new/").status_code == 200

    response = client.post(LIST + "new/", FORM)

    assert response.status_code == 302 and response["Location"] == LIST
    created = ReportSubscription.objects.get()
    assert created.addresses == ["boss@example.org", "ceo@example.org"]
    assert (created.language, created.created_by, created.active) == ("zh-hans", manager, True)
    assert AuditEvent.objects.filter(action="report_subscription.create", actor=manager).exists()


def test_a_monthly_subscription_to_a_role(client, manager):
    client.force_login(manager)
    role = Group.objects.get(name=MANAGER)
    form = {**FORM, "frequency": "monthly", "weekday": "", "day_of_month": "5", "addresses": ""}
    response = client.post(LIST + "new/", {**form, "role": role.pk, "hour": "23"})
    assert response.status_code == 302
    created = ReportSubscription.objects.get()
    assert (created.frequency, created.day_of_month, created.weekday) == ("monthly", 5, None)
    assert (created.role, created.hour) == (role, 23)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"addresses": "boss@example.org, not-an-address"}, "is not a valid e-mail address"),
        ({"addresses": ""}, "Choose a role or enter at least one e-mail address."),
        (
            {"report": "at_risk", "frequency": "monthly", "day_of_month": "1"},
            "it can only be sent weekly",
        ),
        ({"frequency": "monthly", "day_of_month": "31"}, "Ensure this value is less than"),
        ({"frequency": "weekly", "weekday": ""}, "Choose the day of the week."),
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_written(client, manager, over, message):
    client.force_login(manager)
    response = client.post(LIST + "new/", {**FORM, **over})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReportSubscription.objects.exists() and not AuditEvent.objects.exists()


def test_a_manager_changes_a_subscription(client, manager):
    sub = subscription()
    client.force_login(manager)
    page = client.get(LIST + f"{sub.pk}/edit/")
    assert page.status_code == 200 and "boss@example.org" in page.content.decode()

    response = client.post(
        LIST + f"{sub.pk}/edit/", {**FORM, "weekday": "4", "hour": "17", "active": ""}
    )

    assert response.status_code == 302
    sub.refresh_from_db()
    assert (sub.weekday, sub.hour, sub.active) == (4, 17, False)
    assert AuditEvent.objects.filter(action="report_subscription.update", actor=manager).exists()


def test_an_unknown_subscription_is_404(client, manager):
    client.force_login(manager)
    assert client.get(LIST + "999999/edit/").status_code == 404
    assert client.post(LIST + "999999/delete/").status_code == 404


def test_a_manager_deletes_a_subscription(client, manager):
    sub = subscription()
    client.force_login(manager)
    assert client.get(LIST + f"{sub.pk}/delete/").status_code == 200

    response = client.post(LIST + f"{sub.pk}/delete/")

    assert response.status_code == 302 and not ReportSubscription.objects.exists()
    assert AuditEvent.objects.filter(action="report_subscription.delete", actor=manager).exists()


def test_send_now_to_me_mails_the_reader_alone_and_is_audited(client, manager):
    sub = subscription()
    client.force_login(manager)

    response = client.post(LIST + f"{sub.pk}/send-test/")

    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == [manager.email] and message.subject.startswith("KPI summary")
    assert message.attachments[0][0].endswith(".xlsx")
    event = AuditEvent.objects.get(action="export.scheduled_report")
    assert event.actor == manager and event.after["test"] is True
    sub.refresh_from_db()
    assert sub.last_sent_period == ""  # the schedule still sends the period to everyone


def test_the_list_has_a_query_budget(client, manager, django_assert_max_num_queries):
    client.force_login(manager)
    role = Group.objects.get(name=MANAGER)
    for i in range(3):
        subscription(addresses=[f"a{i}@example.org"], role=role)
    client.get(LIST)
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    for i in range(20):
        subscription(addresses=[f"b{i}@example.org"], role=role)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(LIST).status_code == 200

"""My exports (issue 9, part 4): past exports read from the audit trail — one's own, everyone's
for Administrators — with "download again", which runs the same export with the same filters
and is audited again."""

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.core.services import export_record
from apps.customers.services.export import customer_export
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db

URL = "dashboard:export-list"


def _export(client, name: str, **params) -> None:
    response = client.get(reverse(name), params)
    assert response.status_code == 200
    b"".join(response.streaming_content)


def test_a_manager_sees_their_own_exports_with_filters_rows_and_format(client, manager, agent):
    CustomerFactory(store=StoreFactory(code="sh-01"), source="import")
    CustomerFactory()
    client.force_login(manager)
    _export(client, "dashboard:customer-export", format="xlsx", store="sh-01", source="import")
    _export(client, "dashboard:order-export", format="csv")
    colleague = make_staff("Manager", email="other@test.local")
    export_record(actor=colleague, what="orders", fmt="csv", rows=9, summary="not mine")

    response = client.get(reverse(URL))

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.label, r.fmt, r.rows) for r in rows] == [
        ("Orders exported", "CSV", 0),
        ("Customers exported", "XLSX", 1),
    ]
    assert rows[1].filters == [
        ("Store", "sh-01"),
        ("Source", "Import"),
        ("Order", "Joined, newest first"),
    ]
    assert "Everyone" not in response.content.decode()  # a manager sees only their own


def test_download_again_runs_the_same_export_and_audits_it_again(client, manager):
    CustomerFactory(first_name="In", store=StoreFactory(code="sh-01"))
    CustomerFactory(first_name="Out")
    client.force_login(manager)
    _export(client, "dashboard:customer-export", format="csv", store="sh-01", sort="name")

    row = client.get(reverse(URL)).context["rows"][0]
    url = urlsplit(row.again_url)
    assert url.path == reverse("dashboard:customer-export")
    assert parse_qs(url.query) == {"format": ["csv"], "store": ["sh-01"], "sort": ["name"]}
    response = client.get(row.again_url)

    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    data = list(csv.reader(io.StringIO(body)))
    assert [r[1] for r in data[1:]] == ["In"]
    first, second = AuditEvent.objects.filter(action="export.customers").order_by("id")
    assert (
        first.after
        == second.after
        == {
            "format": "csv",
            "filters": {"store": "sh-01", "sort": "name"},
            "rows": 1,
            "truncated": False,
        }
    )
    assert second.actor == manager


def test_download_again_for_liability_coupons_and_the_audit_trail(client, administrator):
    client.force_login(administrator)
    client.get(reverse("dashboard:loyalty-liability-export", args=["xlsx"]), {"months": 6})
    _export(client, "dashboard:audit-export", format="csv", action="points.adjust")

    audit, liability = client.get(reverse(URL)).context["rows"]

    assert liability.again_url == (
        reverse("dashboard:loyalty-liability-export", args=["xlsx"]) + "?months=6"
    )
    assert liability.filters == [("Months", "6")]
    assert audit.filters == [("Action", "Points adjusted")]
    assert client.get(audit.again_url).status_code == 200
    assert AuditEvent.objects.filter(action="export.audit").count() == 2


def test_a_personal_data_export_links_back_to_its_confirmation_page(client, manager):
    customer = CustomerFactory(member_number="1234567897")
    customer_export(customer=customer, actor=manager)
    client.force_login(manager)

    row = client.get(reverse(URL)).context["rows"][0]

    assert (row.label, row.fmt, row.filters) == (
        "Customer data exported",
        "ZIP",
        [("Member", "1234567897")],
    )
    assert row.again_url == reverse("dashboard:customer-privacy-export", args=["1234567897"])


def test_an_admin_export_is_listed_without_download_again(client, manager):
    export_record(actor=manager, what="customers", fmt="xlsx", rows=3, details={"source": "admin"})
    client.force_login(manager)

    row = client.get(reverse(URL)).context["rows"][0]

    assert row.admin and row.again_url == "" and row.rows == 3


def test_download_again_is_offered_only_for_exports_the_user_may_start(client, marketer):
    # Marketing may export coupon codes but not customers: an old customers export (from a
    # role they held before) stays listed, without the link.
    export_record(actor=marketer, what="customers", fmt="csv", rows=1, details={"filters": {}})
    client.force_login(marketer)

    row = client.get(reverse(URL)).context["rows"][0]

    assert row.again_url == ""


def test_an_administrator_sees_everyones_staff_exports(client, administrator, manager):
    export_record(actor=manager, what="orders", fmt="csv", rows=4, details={"filters": {}})
    member = CustomerFactory()
    member_user = make_staff("Manager", email="x@test.local")
    member_user.is_staff = False
    member_user.save()
    export_record(actor=member_user, what="points_history", fmt="csv", rows=2, target=member)
    client.force_login(administrator)

    mine = client.get(reverse(URL)).context["rows"]
    response = client.get(reverse(URL), {"scope": "all"})

    assert mine == []
    rows = response.context["rows"]
    assert [(r.label, r.actor_email) for r in rows] == [("Orders exported", "manager@test.local")]
    assert "manager@test.local" in response.content.decode()


def test_a_manager_cannot_widen_the_list_to_everyone(client, manager, agent):
    export_record(actor=agent, what="orders", fmt="csv", rows=4, details={"filters": {}})
    client.force_login(manager)

    response = client.get(reverse(URL), {"scope": "all"})

    assert response.context["rows"] == [] and not response.context["everyone"]


def test_staff_who_cannot_export_get_403_and_no_nav_link(client, agent, manager):
    client.force_login(agent)
    assert client.get(reverse(URL)).status_code == 403
    assert reverse(URL) not in client.get(reverse("dashboard:home")).content.decode()

    client.force_login(manager)
    assert reverse(URL) in client.get(reverse("dashboard:home")).content.decode()
    page = client.get(reverse("dashboard:customer-list")).content.decode()
    assert reverse(URL) in page  # next to the export buttons


@pytest.mark.parametrize("n", [5, 60])
def test_query_budget(client, administrator, manager, django_assert_max_num_queries, n):
    customers = [CustomerFactory() for _ in range(3)]
    for i in range(n):
        if i % 3 == 0:
            customer_export(customer=customers[i % 3], actor=manager)
        else:
            export_record(
                actor=manager, what="customers", fmt="csv", rows=i, details={"filters": {"q": "x"}}
            )
    client.force_login(administrator)
    with django_assert_max_num_queries(11):
        response = client.get(reverse(URL), {"scope": "all"})

    assert len(response.context["rows"]) == min(n, 50)

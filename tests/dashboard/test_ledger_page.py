"""The staff ledger integrity page (/staff/loyalty/ledger/) and the fault banner on the overview:
Managers and Administrators only, a fixed number of queries, no inline script."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.loyalty.models import LedgerVerification

pytestmark = pytest.mark.django_db
URL = "/staff/loyalty/ledger/"


def _run(*, hours_ago: float = 1, ok: bool | None = True, faults: list[str] = (), **fields):
    started = timezone.now() - dt.timedelta(hours=hours_ago)
    return LedgerVerification.objects.create(
        started_at=started,
        finished_at=None if ok is None else started + dt.timedelta(seconds=30),
        ok=ok,
        fault_count=len(faults),
        faults="\n".join(faults),
        accounts_checked=1200,
        rows_checked=34567,
        chains=1100,
        merkle_root="ab" * 32,
        key_id="0123456789abcdef",
        digest_sent_to=2,
        **fields,
    )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_page_has_its_url_name():
    assert reverse("dashboard:loyalty-ledger") == URL


@pytest.mark.parametrize(
    "role, status",
    [
        ("agent", 403),
        ("marketer", 403),
        ("member_user", 403),
        ("manager", 200),
        ("administrator", 200),
    ],
)
def test_only_managers_and_administrators_open_the_page(client, request, role, status):
    client.force_login(request.getfixturevalue(role))
    assert client.get(URL).status_code == status


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_page_shows_the_last_verification_and_the_history(client, manager):
    _run(hours_ago=49, ok=False, faults=["transaction 7: hash does not match its contents"])
    _run(hours_ago=25, ok=None)  # crashed: never finished
    newest = _run(hours_ago=1)
    client.force_login(manager)
    response = client.get(URL)
    html = response.content.decode()
    assert response.context["latest"] == newest and response.context["stale"] is False
    assert [r.pk for r in response.context["page_obj"]] == list(
        LedgerVerification.objects.order_by("-started_at").values_list("pk", flat=True)
    )
    latest = html[html.index('data-testid="ledger-latest"') :]
    assert "Intact" in latest and "1,200 accounts, 34,567 ledger rows" in latest
    assert "ab" * 32 in latest and "2 managers" in latest
    assert "Did not finish" in html and "1 fault" in html
    assert 'data-testid="ledger-alert"' not in html and 'data-testid="ledger-stale"' not in html


def test_a_failed_last_run_shows_its_faults_and_the_banner(client, manager):
    _run(hours_ago=30)
    _run(
        hours_ago=2, ok=False, faults=["account 3: balance 5 != ledger sum 50", "transaction 9: x"]
    )
    client.force_login(manager)
    html = client.get(URL).content.decode()
    assert 'data-testid="ledger-alert"' in html
    assert "The points ledger failed verification: 2 faults." in html
    faults = html[html.index('data-testid="ledger-faults"') :]
    assert "account 3: balance 5 != ledger sum 50" in faults


def test_a_stale_or_missing_verification_is_flagged(client, manager):
    client.force_login(manager)
    assert "has not been verified yet" in client.get(URL).content.decode()
    _run(hours_ago=50)
    response = client.get(URL)
    assert response.context["stale"] is True
    assert 'data-testid="ledger-stale"' in response.content.decode()


def test_the_overview_warns_managers_and_administrators_of_a_failed_run(
    client, manager, administrator, agent
):
    _run(hours_ago=3, ok=False, faults=["transaction 1: hash does not match its contents"])
    for user, shown in ((manager, True), (administrator, True), (agent, False)):
        client.force_login(user)
        html = client.get(reverse("dashboard:home")).content.decode()
        assert ('data-testid="ledger-alert"' in html) is shown, user
    _run(hours_ago=1)  # the next run passes: the banner goes
    client.force_login(manager)
    assert (
        'data-testid="ledger-alert"' not in client.get(reverse("dashboard:home")).content.decode()
    )


def test_the_navigation_links_the_page_for_managers_only(client, manager, agent):
    client.force_login(manager)
    assert f'href="{URL}"' in client.get(reverse("dashboard:loyalty-liability")).content.decode()
    client.force_login(agent)
    assert f'href="{URL}"' not in client.get(reverse("dashboard:home")).content.decode()


def test_ledger_page_budget(client, manager):
    client.force_login(manager)
    for i in range(5):
        _run(hours_ago=24 * (i + 1))
    _queries(client, URL)  # warm-up
    small = _queries(client, URL)
    for i in range(5, 120):
        _run(hours_ago=24 * (i + 1), ok=i % 7 != 0, faults=["x"] * (i % 7 == 0))
    # Session, user, user sessions and permissions take 9; the page: last run, count, one page.
    assert _queries(client, URL) == small <= 13  # +1: the Administration link asks for the role
    assert _queries(client, URL + "?page=3") == small


def test_the_page_has_no_inline_script_or_event_handler(client, manager):
    _run(hours_ago=2, ok=False, faults=["transaction 9: hash does not match its contents"])
    client.force_login(manager)
    html = client.get(URL).content.decode()
    main = html[html.index("<main") : html.index("</main>")]
    assert "<script" not in main
    assert not re.search(r"\son[a-z]+\s*=", main)

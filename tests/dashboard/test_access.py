"""Who may open which staff page: a role × page matrix. Roles and their permissions come from
the data migrations, so this also guards the grants themselves."""

import pytest
from django.urls import resolve, reverse

from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord, Customer, Interaction

pytestmark = pytest.mark.django_db

ROLES = ["agent", "marketer", "manager", "administrator"]

# page name -> roles that may GET it (everyone else on staff gets 403)
GET_PAGES = {
    "home": set(ROLES),
    "customer-list": set(ROLES),
    "customer-detail": set(ROLES),
    "customer-create": {"agent", "manager", "administrator"},
    "customer-edit": {"agent", "manager", "administrator"},
    "order-list": set(ROLES),
}

# POST action -> (roles allowed, form data, what an allowed post changes in ``_rows()``)
POST_ACTIONS = {
    "customer-tag-add": (
        {"agent", "marketer", "manager", "administrator"},
        {"name": "gold"},
        lambda user: {"tags": ["gold", "vip"], "audit": [("customer.tag_add", user.email)]},
    ),
    "interaction-create": (
        {"agent", "manager", "administrator"},
        {"kind": "call", "summary": "Asked about points"},
        lambda user: {
            "interactions": [("call", "Asked about points", user.email)],
            "audit": [("interaction.create", user.email)],
        },
    ),
    "consent-update": (
        {"agent", "manager", "administrator"},
        {"channel": "sms", "purpose": "marketing", "granted": "no"},
        lambda user: {
            "consents": [("sms", "marketing", False, "staff", user.email)],
            "audit": [("consent.withdraw", user.email)],
        },
    ),
}


def _url(name, customer):
    if name in ("home", "customer-list", "customer-create", "order-list"):
        return reverse(f"dashboard:{name}")
    return reverse(f"dashboard:{name}", args=[customer.member_number])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(GET_PAGES))
def test_staff_role_page_matrix(client, request, customer, role, page):
    client.force_login(request.getfixturevalue(role))
    response = client.get(_url(page, customer))
    assert response.status_code == (200 if role in GET_PAGES[page] else 403)


@pytest.mark.parametrize("page", sorted(GET_PAGES))
def test_anonymous_visitor_is_sent_to_log_in(client, customer, page):
    url = _url(page, customer)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]


@pytest.mark.parametrize("page", sorted(GET_PAGES))
def test_member_without_staff_status_gets_403(client, member_user, customer, page):
    client.force_login(member_user)
    assert client.get(_url(page, customer)).status_code == 403


def _rows():
    """Everything the actions write, row by row, so a test names exactly what changed."""
    return {
        "tags": sorted(Customer.objects.get().tags.values_list("name", flat=True)),
        "interactions": list(
            Interaction.objects.order_by("id").values_list("kind", "summary", "author__email")
        ),
        "consents": list(
            ConsentRecord.objects.order_by("id").values_list(
                "channel", "purpose", "granted", "source", "actor__email"
            )
        ),
        "audit": list(AuditEvent.objects.order_by("id").values_list("action", "actor__email")),
    }


@pytest.mark.parametrize("role", [*ROLES, "member_user"])
@pytest.mark.parametrize("action", sorted(POST_ACTIONS))
def test_post_action_matrix_and_refusals_change_nothing(client, request, customer, role, action):
    allowed, data, changes = POST_ACTIONS[action]
    user = request.getfixturevalue(role)
    client.force_login(user)
    before = _rows()
    assert before == {"tags": ["vip"], "interactions": [], "consents": [], "audit": []}
    response = client.post(_url(action, customer), data)
    if role in allowed:
        assert response.status_code == 302
        assert response["Location"].startswith(_url("customer-detail", customer))
        assert _rows() == {**before, **changes(user)}
    else:
        assert response.status_code == 403
        assert _rows() == before


def test_anonymous_post_changes_nothing(client, customer):
    before = _rows()
    for action, (_allowed, data, _changes) in POST_ACTIONS.items():
        response = client.post(_url(action, customer), data)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert _rows() == before


def test_actions_refuse_get(client, agent, customer):
    client.force_login(agent)
    for action in POST_ACTIONS:
        assert client.get(_url(action, customer)).status_code == 405


@pytest.mark.parametrize("page", ["customer-detail", "customer-edit"])
def test_unknown_member_number_is_404(client, agent, page):
    client.force_login(agent)
    assert client.get(reverse(f"dashboard:{page}", args=["1234567890"])).status_code == 404


def test_unknown_member_number_on_actions_is_404_and_changes_nothing(client, agent, customer):
    client.force_login(agent)
    before = _rows()
    for action, (_allowed, data, _changes) in POST_ACTIONS.items():
        url = reverse(f"dashboard:{action}", args=["1234567890"])
        assert client.post(url, data).status_code == 404
    assert _rows() == before


def test_navigation_shows_only_what_the_role_allows(client, marketer, agent, manager):
    def links(user) -> set[str]:
        client.force_login(user)
        html = client.get(reverse("dashboard:home")).content.decode()
        return {
            name
            for name in ("customer-list", "customer-create", "order-list")
            if f'href="{reverse(f"dashboard:{name}")}"' in html
        }

    assert links(marketer) == {"customer-list", "order-list"}  # marketers cannot enrol
    assert links(agent) == {"customer-list", "customer-create", "order-list"}


def test_navigation_offers_data_import_only_to_importers(client, agent, manager):
    import_url = reverse("dashboard:data-import")
    assert import_url == "/staff/data/import/"  # the real route, mounted in config/urls.py
    client.force_login(agent)
    assert f'href="{import_url}"' not in client.get(reverse("dashboard:home")).content.decode()
    assert client.get(import_url).status_code == 403
    client.force_login(manager)
    assert f'href="{import_url}"' in client.get(reverse("dashboard:home")).content.decode()
    assert client.get(import_url).status_code == 200


def test_layout_has_language_switcher_logout_and_csrf_header(client, agent):
    client.force_login(agent)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert 'value="zh-hans"' in html and "简体中文" in html
    assert f'action="{reverse("account_logout")}"' in html
    assert 'hx-headers=\'{"X-CSRFToken":' in html
    assert 'id="global-search"' in html
    assert '<html lang="en"' in html


def test_layout_follows_the_chosen_language(client, agent):
    client.force_login(agent)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("dashboard:home")).content.decode()
    assert '<html lang="zh-Hans"' in html


def test_customer_routes_leave_sibling_paths_to_other_views(client, manager):
    """``customers/export/`` is mounted after the customer routes; it must not be taken for a
    member number."""
    assert resolve("/staff/customers/1234567890/").url_name == "customer-detail"
    assert resolve("/staff/customers/new/").url_name == "customer-create"
    assert resolve("/staff/customers/export/").url_name == "customer-export"
    assert resolve("/staff/orders/export/").url_name == "order-export"

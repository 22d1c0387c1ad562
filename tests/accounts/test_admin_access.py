"""The Django admin is for Administrators only (DESIGN, roles; issue 8, defect 11)."""

import pytest
from django.urls import reverse

from apps.accounts import roles
from apps.accounts.models import ApiKey
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/admin/",
    "/admin/login/",
    "/admin/accounts/apikey/",
    "/admin/customers/customer/",
    "/admin/accounts/apikey/add/",
]


@pytest.mark.parametrize("role", ["agent", "marketer", "manager"])
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_other_staff_roles_are_refused_every_admin_page(client, request, role, path):
    client.force_login(request.getfixturevalue(role))
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", ["agent", "marketer", "manager"])
def test_other_staff_roles_cannot_write_through_the_admin(client, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.post("/admin/accounts/apikey/add/", {"name": "Sneaky"})
    assert response.status_code == 403
    assert ApiKey.objects.count() == 0


def test_a_member_is_refused(client, member):
    client.force_login(member[0])
    assert client.get("/admin/").status_code == 403


def test_anonymous_visitors_go_to_the_allauth_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.get(response["Location"])["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("who", ["administrator", "superuser", "group_administrator"])
def test_administrators_and_superusers_use_the_admin(client, request, who):
    if who == "group_administrator":
        user = make_staff(roles.ADMINISTRATOR, email="group-admin@test.local")
        assert not user.is_superuser
    else:
        user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/apikey/").status_code == 200
    assert client.get("/admin/login/").status_code == 302  # already in: on to the index


def test_an_inactive_administrator_is_not_an_administrator(administrator):
    administrator.is_active = False
    assert not roles.is_administrator(administrator)


@pytest.mark.parametrize(
    ("role", "shown"),
    [(roles.ADMINISTRATOR, True), (roles.MANAGER, False), (roles.SUPPORT_AGENT, False)],
)
def test_the_administration_link_is_shown_to_whoever_may_use_the_admin(client, role, shown):
    """Issue 8: the link followed the superuser flag, so a group Administrator never saw it."""
    user = make_staff(role, email=f"{role.split()[0].lower()}@test.local")
    client.force_login(user)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert (reverse("admin:index") in html) is shown

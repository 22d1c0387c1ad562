"""The Administrators' staff users pages: access, invitations, role changes, deactivation with a
confirmation step, and the list's query budget."""

import pytest
from django.core import mail
from django.urls import reverse

from apps.accounts import roles
from apps.accounts.models import User
from apps.core.models import AuditEvent
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

LIST_BUDGET = 12


@pytest.mark.parametrize("role", ["agent", "marketer", "manager"])
@pytest.mark.parametrize(
    "name, args",
    [
        ("dashboard:staff-user-list", []),
        ("dashboard:staff-user-invite", []),
        ("dashboard:staff-user-detail", ["self"]),
        ("dashboard:staff-user-deactivate", ["self"]),
    ],
)
def test_other_roles_get_403(client, request, role, name, args):
    user = request.getfixturevalue(role)
    client.force_login(user)
    url = reverse(name, args=[user.pk for _ in args])
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_other_roles_cannot_post(client, request, role, administrator):
    client.force_login(request.getfixturevalue(role))
    invite = client.post(
        reverse("dashboard:staff-user-invite"),
        {"email": "x@test.local", "role": roles.ADMINISTRATOR},
    )
    demote = client.post(
        reverse("dashboard:staff-user-role", args=[administrator.pk]), {"role": roles.MANAGER}
    )
    off = client.post(reverse("dashboard:staff-user-deactivate", args=[administrator.pk]))
    assert [invite.status_code, demote.status_code, off.status_code] == [403, 403, 403]
    assert not User.objects.filter(email="x@test.local").exists()
    administrator.refresh_from_db()
    assert administrator.is_active and administrator.is_superuser


def test_anonymous_goes_to_login(client):
    response = client.get(reverse("dashboard:staff-user-list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_list_shows_name_email_role_status_and_last_login(client, administrator, agent):
    client.force_login(administrator)
    response = client.get(reverse("dashboard:staff-user-list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "agent@test.local" in body and "Ann Agent" in body and "Support agent" in body
    assert "Never" in body  # the agent never logged in
    assert reverse("dashboard:staff-user-list") in body  # the sidebar entry


def test_list_filters_by_role(client, administrator, agent, manager):
    client.force_login(administrator)
    body = client.get(reverse("dashboard:staff-user-list"), {"role": roles.MANAGER}).content
    assert b"manager@test.local" in body and b"agent@test.local" not in body


def test_invite_through_the_page(client, administrator, django_capture_on_commit_callbacks):
    client.force_login(administrator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dashboard:staff-user-invite"),
            {"email": "new@test.local", "full_name": "New One", "role": roles.SUPPORT_AGENT},
        )
    assert response.status_code == 302
    user = User.objects.get(email="new@test.local")
    assert roles.user_role(user) == roles.SUPPORT_AGENT and not user.has_usable_password()
    assert [m.to for m in mail.outbox] == [["new@test.local"]]
    detail = client.get(reverse("dashboard:staff-user-detail", args=[user.pk])).content.decode()
    assert "Invited" in detail and "Send the invitation again" in detail


def test_invite_of_a_taken_address_shows_on_the_field(client, administrator, agent):
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:staff-user-invite"),
        {"email": "Agent@Test.local", "role": roles.MANAGER},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [
        "This e-mail address already belongs to a user."
    ]
    assert User.objects.count() == 2 and not mail.outbox


def test_role_change_through_the_page(client, administrator, agent):
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:staff-user-role", args=[agent.pk]), {"role": roles.MARKETING}
    )
    assert response.status_code == 302
    assert roles.user_role(User.objects.get(pk=agent.pk)) == roles.MARKETING
    assert AuditEvent.objects.filter(action="staff.role_change", actor=administrator).count() == 1


def test_self_demotion_is_refused_on_the_page(client, administrator):
    make_staff(roles.ADMINISTRATOR, email="second@test.local")
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:staff-user-role", args=[administrator.pk]),
        {"role": roles.MANAGER},
        follow=True,
    )
    assert "cannot remove your own Administrator rights" in response.content.decode()
    assert roles.user_role(User.objects.get(pk=administrator.pk)) == roles.ADMINISTRATOR


def test_deactivation_asks_first_then_deactivates(client, administrator, agent):
    client.force_login(administrator)
    url = reverse("dashboard:staff-user-deactivate", args=[agent.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and b'method="post"' in confirm.content
    agent.refresh_from_db()
    assert agent.is_active  # showing the confirmation changes nothing
    client.post(url)
    agent.refresh_from_db()
    assert not agent.is_active
    client.post(reverse("dashboard:staff-user-reactivate", args=[agent.pk]))
    agent.refresh_from_db()
    assert agent.is_active


def test_deactivating_the_last_administrator_is_refused_on_the_page(client, administrator):
    # The only Administrator, on their own account: refused (self first, and last too).
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:staff-user-deactivate", args=[administrator.pk]), follow=True
    )
    assert "cannot remove your own Administrator rights" in response.content.decode()
    administrator.refresh_from_db()
    assert administrator.is_active


def test_a_member_account_is_not_found(client, administrator, member):
    client.force_login(administrator)
    assert (
        client.get(reverse("dashboard:staff-user-detail", args=[member[0].pk])).status_code == 404
    )


def test_list_budget(client, administrator, count_queries, django_assert_max_num_queries):
    client.force_login(administrator)
    url = reverse("dashboard:staff-user-list")
    for i in range(5):
        make_staff(roles.SUPPORT_AGENT, email=f"a{i}@test.local")
    small = count_queries(client, url)
    for i in range(5, 45):
        make_staff(roles.MANAGER if i % 2 else roles.MARKETING, email=f"a{i}@test.local")
    large = count_queries(client, url)
    assert small == large
    with django_assert_max_num_queries(LIST_BUDGET):
        client.get(url, {"q": "a", "role": roles.MANAGER})


def test_detail_budget(client, administrator, agent, count_queries):
    client.force_login(administrator)
    assert count_queries(client, reverse("dashboard:staff-user-detail", args=[agent.pk])) <= 10

"""Staff users and roles (issue 9, part 7): invitations, role changes, deactivation, and the
Administrator rule, through the services and through the Django admin."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from apps.accounts import roles
from apps.accounts.models import User
from apps.accounts.services import (
    EmailTaken,
    LastAdministrator,
    SelfLockout,
    staff_deactivate,
    staff_invite,
    staff_invite_resend,
    staff_reactivate,
    staff_role_change,
)
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


def _audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --- invite -----------------------------------------------------------------------------------


def test_invite_makes_a_staff_account_without_password_and_mails_a_set_password_link(
    administrator, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = staff_invite(
            email=" New.Person@Example.com ",
            full_name="New Person",
            role=roles.MARKETING,
            actor=administrator,
        )
    user.refresh_from_db()
    assert (user.email, user.is_staff, user.is_superuser, user.is_active) == (
        "new.person@example.com",
        True,
        False,
        True,
    )
    assert not user.has_usable_password()
    assert roles.user_role(user) == roles.MARKETING
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).count() == 1
    [event] = _audits("staff.invite")
    assert (event.actor, event.target_id) == (administrator, str(user.pk))
    assert event.after["role"] == roles.MARKETING
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"]
    url = re.search(r"https?://\S+/accounts/password/reset/key/\S+", message.body).group(0)
    path = url.split("://", 1)[1].split("/", 1)[1]
    # The link is allauth's set-password page: it accepts the token once.
    page = client.get("/" + path, follow=True)
    assert page.status_code == 200 and not page.context.get("token_fail")
    response = client.post(
        page.redirect_chain[-1][0],
        {"password1": "Fresh-Pass-9431", "password2": "Fresh-Pass-9431"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Fresh-Pass-9431")
    # Used once: the same link no longer works.
    again = client.get("/" + path, follow=True)
    assert again.context["token_fail"]


@pytest.mark.parametrize("email", ["agent@test.local", "AGENT@test.local"])
def test_invite_refuses_an_address_that_belongs_to_a_user(administrator, agent, email):
    with pytest.raises(EmailTaken) as exc:
        staff_invite(email=email, role=roles.MANAGER, actor=administrator)
    assert exc.value.extra["field"] == "email"
    assert User.objects.count() == 2 and not _audits("staff.invite") and not mail.outbox


def test_invite_refuses_a_member_address_too(administrator, member):
    with pytest.raises(EmailTaken):
        staff_invite(email=member[0].email, role=roles.SUPPORT_AGENT, actor=administrator)
    assert not member[0].is_staff and not _audits("staff.invite")


def test_invite_refuses_an_unknown_role(administrator):
    with pytest.raises(ValidationFailed):
        staff_invite(email="x@test.local", role="Boss", actor=administrator)
    assert not User.objects.filter(email="x@test.local").exists()


def test_resend_only_while_no_password_is_set(
    administrator, agent, django_capture_on_commit_callbacks
):
    with pytest.raises(Conflict):
        staff_invite_resend(user=agent, actor=administrator)
    user = staff_invite(email="later@test.local", role=roles.MANAGER, actor=administrator)
    with django_capture_on_commit_callbacks(execute=True):
        staff_invite_resend(user=user, actor=administrator)
    assert [m.to for m in mail.outbox] == [["later@test.local"]]
    assert len(_audits("staff.invite_resend")) == 1


# --- role changes -----------------------------------------------------------------------------


def test_role_change_moves_the_user_to_one_role_and_is_audited(administrator, agent):
    extra = Group.objects.create(name="Night shift")
    agent.groups.add(extra)
    staff_role_change(user=agent, role=roles.MANAGER, actor=administrator)
    agent.refresh_from_db()
    names = set(agent.groups.values_list("name", flat=True))
    assert names == {roles.MANAGER, "Night shift"}
    [event] = _audits("staff.role_change")
    assert event.before["role"] == roles.SUPPORT_AGENT and event.after["role"] == roles.MANAGER


def test_demoting_a_superuser_administrator_drops_superuser(administrator):
    other = make_staff(roles.ADMINISTRATOR, email="second@test.local", is_superuser=True)
    staff_role_change(user=other, role=roles.MANAGER, actor=administrator)
    other.refresh_from_db()
    assert not other.is_superuser and roles.user_role(other) == roles.MANAGER
    assert not roles.is_administrator(User.objects.get(pk=other.pk))


def test_an_administrator_cannot_demote_themselves(administrator):
    make_staff(roles.ADMINISTRATOR, email="second@test.local")
    with pytest.raises(SelfLockout):
        staff_role_change(user=administrator, role=roles.MANAGER, actor=administrator)
    administrator.refresh_from_db()
    assert administrator.is_superuser and roles.user_role(administrator) == roles.ADMINISTRATOR
    assert not _audits("staff.role_change")


def test_the_last_active_administrator_cannot_be_demoted(administrator):
    # Someone acting without an account (a script) still may not remove the last one.
    with pytest.raises(LastAdministrator):
        staff_role_change(user=administrator, role=roles.SUPPORT_AGENT, actor=None)
    assert roles.user_role(User.objects.get(pk=administrator.pk)) == roles.ADMINISTRATOR


def test_a_deactivated_administrator_does_not_count(administrator):
    second = make_staff(roles.ADMINISTRATOR, email="second@test.local")
    staff_deactivate(user=second, actor=administrator)
    with pytest.raises(LastAdministrator):
        staff_role_change(user=administrator, role=roles.MANAGER, actor=second)


def test_an_administrator_may_demote_another_while_one_remains(administrator):
    second = make_staff(roles.ADMINISTRATOR, email="second@test.local")
    staff_role_change(user=second, role=roles.MARKETING, actor=administrator)
    assert roles.user_role(User.objects.get(pk=second.pk)) == roles.MARKETING


# --- deactivate -------------------------------------------------------------------------------


def test_deactivate_and_reactivate_are_audited(administrator, agent):
    staff_deactivate(user=agent, actor=administrator)
    agent.refresh_from_db()
    assert not agent.is_active
    staff_reactivate(user=agent, actor=administrator)
    agent.refresh_from_db()
    assert agent.is_active
    assert [len(_audits("staff.deactivate")), len(_audits("staff.reactivate"))] == [1, 1]


def test_an_administrator_cannot_deactivate_themselves(administrator):
    make_staff(roles.ADMINISTRATOR, email="second@test.local")
    with pytest.raises(SelfLockout):
        staff_deactivate(user=administrator, actor=administrator)
    administrator.refresh_from_db()
    assert administrator.is_active and not _audits("staff.deactivate")


def test_the_last_active_administrator_cannot_be_deactivated(administrator, manager):
    with pytest.raises(LastAdministrator):
        staff_deactivate(user=administrator, actor=manager)
    administrator.refresh_from_db()
    assert administrator.is_active


def test_members_are_not_staff_accounts(administrator, member):
    with pytest.raises(Conflict):
        staff_deactivate(user=member[0], actor=administrator)
    member[0].refresh_from_db()
    assert member[0].is_active


# --- Django admin -----------------------------------------------------------------------------


def _admin_form(user: User, **changes) -> dict:
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "language": user.language,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [str(g.pk) for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_admin_refuses_to_demote_the_last_administrator(client, administrator):
    client.force_login(administrator)
    url = reverse("admin:accounts_user_change", args=[administrator.pk])
    response = client.post(url, _admin_form(administrator, is_superuser="", groups=[]))
    assert response.status_code == 302
    administrator.refresh_from_db()
    assert administrator.is_superuser
    assert roles.user_role(administrator) == roles.ADMINISTRATOR
    assert not AuditEvent.objects.filter(action="staff.update").exists()
    # Whoever uses the admin is an Administrator, so the last one demoting is demoting
    # themselves: refused by the same rule as in the dashboard.
    page = client.get(response["Location"])
    assert "cannot remove your own Administrator rights" in page.content.decode()


def test_admin_refuses_to_deactivate_oneself_as_administrator(client, administrator):
    make_staff(roles.ADMINISTRATOR, email="second@test.local")
    client.force_login(administrator)
    url = reverse("admin:accounts_user_change", args=[administrator.pk])
    client.post(url, _admin_form(administrator, is_active=""))
    administrator.refresh_from_db()
    assert administrator.is_active


def test_admin_changes_of_access_are_audited(client, administrator, agent):
    client.force_login(administrator)
    manager_group = Group.objects.get(name=roles.MANAGER)
    url = reverse("admin:accounts_user_change", args=[agent.pk])
    response = client.post(url, _admin_form(agent, groups=[str(manager_group.pk)]))
    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action="staff.update")
    assert event.before["role"] == roles.SUPPORT_AGENT and event.after["role"] == roles.MANAGER


def test_admin_cannot_delete_an_administrator(client, administrator):
    second = make_staff(roles.ADMINISTRATOR, email="second@test.local")
    client.force_login(administrator)
    response = client.post(reverse("admin:accounts_user_delete", args=[second.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=second.pk).exists()

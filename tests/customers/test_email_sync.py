"""A member's verified primary e-mail, changed at /accounts/email/, reaches their membership."""

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import email_changed, email_confirmed
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.customers.models import Customer
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

OLD, NEW = "mia@test.local", "mia.new@test.local"  # OLD: the shared member's address


def test_making_a_verified_address_primary_updates_the_membership(client, member):
    user, customer = member
    EmailAddress.objects.create(user=user, email=NEW, verified=True, primary=False)
    client.post(reverse("account_login"), {"login": OLD, "password": "pw-Secret-123"})
    client.post(reverse("account_reauthenticate"), {"password": "pw-Secret-123"})
    response = client.post(reverse("account_email"), {"action_primary": "", "email": NEW})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == NEW and NEW in customer.search_text
    event = AuditEvent.objects.get(action="customer.update", target_id=str(customer.pk))
    assert (event.actor, event.before, event.after) == (user, {"email": OLD}, {"email": NEW})


def test_an_unverified_primary_never_reaches_the_membership(member):
    user, customer = member
    EmailAddress.objects.filter(user=user).update(verified=False)
    address = EmailAddress.objects.get(user=user)
    address.email = NEW
    address.save()
    email_changed.send(
        sender=EmailAddress,
        request=None,
        user=user,
        from_email_address=None,
        to_email_address=address,
    )
    assert Customer.objects.get(pk=customer.pk).email == OLD
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_a_confirmed_secondary_address_stays_the_accounts_own(member):
    user, customer = member
    secondary = EmailAddress.objects.create(user=user, email=NEW, verified=True, primary=False)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=secondary)
    assert Customer.objects.get(pk=customer.pk).email == OLD


def test_a_confirmed_new_primary_updates_the_membership(member):
    """allauth's ACCOUNT_CHANGE_EMAIL flow: the new address becomes primary when confirmed."""
    user, customer = member
    EmailAddress.objects.filter(user=user).update(primary=False)
    confirmed = EmailAddress.objects.create(user=user, email=NEW, verified=True, primary=True)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=confirmed)
    assert Customer.objects.get(pk=customer.pk).email == NEW


def test_staff_and_anonymised_memberships_are_left_alone(member):
    staff = UserFactory(email="staff@test.local", is_staff=True)
    address = EmailAddress.objects.create(
        user=staff, email="staff@test.local", verified=True, primary=True
    )
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    user, customer = member
    Customer.objects.filter(pk=customer.pk).update(anonymized_at="2026-01-01T00:00:00Z")
    EmailAddress.objects.filter(user=user).update(email=NEW)
    email_changed.send(
        sender=EmailAddress,
        request=None,
        user=user,
        from_email_address=None,
        to_email_address=EmailAddress.objects.get(user=user),
    )
    assert Customer.objects.get(pk=customer.pk).email == OLD
    assert not Customer.objects.filter(email=NEW).exists()
    assert not AuditEvent.objects.filter(action="customer.update").exists()

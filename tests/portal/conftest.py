import pytest
from allauth.account.models import EmailAddress

from apps.customers.services import membership_enrol
from tests.accounts.factories import UserFactory


@pytest.fixture(autouse=True)
def _portal_signup_form(settings):
    # The lead adds this to config/settings/base.py; tests must not depend on that timing.
    settings.ACCOUNT_FORMS = {"signup": "apps.accounts.forms.SignupForm"}


def verified_user(email: str, **kwargs):
    user = UserFactory(email=email, **kwargs)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def enrolled_member(email: str, first_name: str = "Mia"):
    user = verified_user(email)
    customer = membership_enrol(user=user, first_name=first_name, last_name="Member")
    return user, customer


@pytest.fixture
def member(db):
    return enrolled_member("mia@test.local")


@pytest.fixture
def other_member(db):
    return enrolled_member("olly@test.local", first_name="Olly")

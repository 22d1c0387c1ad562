from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _on_email_changed(sender, *, user, **kwargs) -> None:
    from .services.profile import customer_email_sync

    customer_email_sync(user=user)


def _on_email_confirmed(sender, *, email_address, **kwargs) -> None:
    from .services.profile import customer_email_sync

    if email_address.primary:  # a confirmed secondary address stays the account's own
        customer_email_sync(user=email_address.user)


class CustomersConfig(AppConfig):
    name = "apps.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from allauth.account.signals import email_changed, email_confirmed

        from . import selectors  # noqa: F401 - registers this app's timeline providers
        from .services import privacy  # noqa: F401 - registers export and erasure handlers

        # A member who changes their e-mail at /accounts/email/ changes it on the membership.
        email_changed.connect(_on_email_changed, dispatch_uid="customers.email_changed")
        email_confirmed.connect(_on_email_confirmed, dispatch_uid="customers.email_confirmed")

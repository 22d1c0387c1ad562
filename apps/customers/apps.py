from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "apps.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from . import selectors  # noqa: F401 - registers this app's timeline providers
        from .services import privacy  # noqa: F401 - registers export and erasure handlers

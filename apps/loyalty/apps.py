from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "apps.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from apps.customers.imports import ORDERS_IMPORTED_HOOKS
        from apps.customers.services.profile import CUSTOMER_ENROLLED_HOOKS

        from . import demo, privacy, selectors  # noqa: F401 - timeline, demo step, privacy sections
        from .services.earning import orders_earn_bulk, signup_bonus_award

        if orders_earn_bulk not in ORDERS_IMPORTED_HOOKS:
            ORDERS_IMPORTED_HOOKS.append(orders_earn_bulk)
        if signup_bonus_award not in CUSTOMER_ENROLLED_HOOKS:
            CUSTOMER_ENROLLED_HOOKS.append(signup_bonus_award)

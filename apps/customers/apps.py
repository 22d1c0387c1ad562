from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "apps.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        """The app's wiring, in one visible place (see ``manage.py events``)."""
        from allauth.account.signals import email_changed, email_confirmed

        from apps.core import events, privacy, timeline

        from . import exports, selectors, tasks  # noqa: F401 - tasks: Celery registers on import
        from .importing import retention
        from .services import erasure, export, merge, profile

        email_changed.connect(profile.on_email_changed, dispatch_uid="customers.email_changed")
        email_confirmed.connect(
            profile.on_email_confirmed, dispatch_uid="customers.email_confirmed"
        )
        events.subscribe("account.phone_verified", profile.on_phone_verified, when="in_transaction")

        timeline.register(
            "orders",
            rows=selectors.orders_timeline_rows,
            key="placed_at",
            events=selectors.orders_timeline,
        )
        timeline.register(
            "interactions",
            rows=selectors.interactions_timeline_rows,
            key="at",
            events=selectors.interactions_timeline,
        )
        timeline.register(
            "consents",
            rows=selectors.consent_timeline_rows,
            key="at",
            events=selectors.consent_timeline,
        )

        # Erasers run in ascending order; the customer's own profile goes last.
        privacy.register(
            "profile", export=export.export_profile, erase=erasure.erase_profile, order=1000
        )
        privacy.register(
            "account", export=export.export_account, erase=erasure.erase_account, order=900
        )
        # Mergers (``merge=``) move this app's rows to the survivor of a merge; the apps above
        # register theirs with a higher ``merge_order`` and find these rows already moved.
        privacy.register(
            "consents",
            export=export.export_consents,
            erase=erasure.erase_consents,
            merge=merge.merge_consents,
        )
        privacy.register(
            "orders",
            export=export.export_orders,
            erase=erasure.erase_orders,
            merge=merge.merge_orders,
        )
        privacy.register("order_lines", export=export.export_order_lines)
        privacy.register("refunds", export=export.export_refunds)
        privacy.register(
            "interactions",
            export=export.export_interactions,
            erase=erasure.erase_interactions,
            merge=merge.merge_interactions,
        )
        privacy.register(
            "messages",
            export=export.export_messages,
            erase=erasure.erase_messages,
            merge=merge.merge_messages,
        )
        privacy.register(
            "privacy_log", export=export.export_privacy_log, erase=erasure.erase_audit, order=950
        )
        privacy.register("imports", erase=retention.erase_imports)

        # The customer export's figures after the profile (apps above add theirs, e.g. loyalty
        # at 10: tier and points before spend).
        exports.register_columns(
            "orders", columns=exports.ORDER_COLUMNS, values=exports.order_figures, order=20
        )
        exports.register_columns(
            "tags", columns=exports.TAG_COLUMNS, values=exports.tag_figures, order=30
        )
        exports.register_columns(
            "consents", columns=exports.CONSENT_COLUMNS, values=exports.consent_figures, order=40
        )

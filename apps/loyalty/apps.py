from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "apps.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        """The app's wiring, in one visible place (see ``manage.py events``)."""
        from apps.core import events, privacy, timeline
        from apps.core.metrics import collector_register
        from apps.customers import demo
        from apps.customers import exports as customer_exports

        from . import exports, selectors, tasks  # noqa: F401 - tasks: Celery registers on import
        from . import privacy as sections
        from .demo import seed_loyalty
        from .metrics import ledger_verification_metrics
        from .services import badges, bonuses, earning_bulk, merge, referrals

        events.subscribe("customer.enrolled", bonuses.on_customer_enrolled, when="in_transaction")
        events.subscribe("orders.imported", earning_bulk.on_orders_imported, when="in_transaction")
        events.subscribe("order.earned", referrals.on_order_earned, when="in_transaction")
        events.subscribe("order.earned", badges.on_order_earned, when="in_transaction")

        timeline.register(
            "points",
            rows=selectors.points_timeline_rows,
            key="created_at",
            events=selectors.points_timeline,
        )
        collector_register(ledger_verification_metrics)
        demo.register("loyalty", seed_loyalty, order=10)
        customer_exports.register_columns(
            "loyalty",
            columns=exports.CUSTOMER_COLUMNS,
            values=exports.customer_loyalty_figures,
            order=10,
        )

        privacy.register(
            "loyalty_account",
            export=sections.export_account,
            erase=sections.erase,
            audit_targets=sections.audit_targets,
            # After the customers app's mergers: the tier is evaluated on the moved orders.
            merge=merge.merge_loyalty,
            merge_order=500,
        )
        for name, exporter in (
            ("points_transactions", sections.export_transactions),
            ("points_lots", sections.export_lots),
            ("tier_history", sections.export_tier_history),
            ("points_adjustments", sections.export_adjustments),
            ("redemptions", sections.export_redemptions),
            ("coupons", sections.export_coupons),
            ("coupon_uses", sections.export_coupon_uses),
            ("referrals", sections.export_referrals),
            ("referral_code", sections.export_referral_code),
            ("badges", sections.export_badges),
        ):
            privacy.register(name, export=exporter)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = _("Customer value")

    def ready(self) -> None:
        """The app's wiring, in one visible place."""
        from apps.core import privacy
        from apps.customers import demo
        from apps.loyalty.rules import CONDITIONS

        from . import privacy as sections
        from . import tasks  # noqa: F401 (registers the Celery jobs)
        from .demo import seed_analytics, seed_kpis
        from .rules.membership import segment_condition

        # Earn rules limited to a segment (loyalty's extension point; see loyalty.rules).
        CONDITIONS["segment"] = segment_condition
        demo.register("analytics", seed_analytics, order=40)  # after complaints (30)
        demo.register("kpis", seed_kpis, order=60)  # after campaigns (50): they count too
        privacy.register("customer_metrics", export=sections.export_metrics, erase=sections.erase)
        privacy.register(
            "at_risk", export=sections.export_at_risk, merge=sections.merge, merge_order=700
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "apps.campaigns"
    label = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        """The app's wiring, in one visible place."""
        from apps.analytics.kpis import kpi_provider_register
        from apps.core import events, privacy, timeline
        from apps.customers import demo
        from apps.loyalty.rules import CONDITIONS

        from . import privacy as sections
        from . import tasks
        from .demo import seed_campaigns
        from .kpis import campaign_kpis
        from .offers import campaign_condition
        from .services.journeys import EVENT_TRIGGERS
        from .services.tracking import on_customer_unsubscribed

        # A campaign's points multiplier (loyalty's extension point; see loyalty.rules).
        CONDITIONS["campaign"] = campaign_condition
        for name in EVENT_TRIGGERS:
            events.subscribe(name, tasks.on_journey_event, when="after_commit")
        events.subscribe("customer.unsubscribed", on_customer_unsubscribed, when="after_commit")
        timeline.register(
            "messages",
            rows=sections.messages_timeline_rows,
            key="sent_at",
            events=sections.messages_timeline,
        )
        kpi_provider_register(campaign_kpis)  # uplift, spending and ROI on the KPI page
        demo.register("campaigns", seed_campaigns, order=50)  # after analytics (40)
        privacy.register(
            "campaign_messages",
            export=sections.export_messages,
            erase=sections.erase,
            merge=sections.merge,
            merge_order=700,
        )

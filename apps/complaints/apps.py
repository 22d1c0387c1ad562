from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "apps.complaints"
    label = "complaints"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        """The app's wiring, in one visible place (see ``manage.py events``)."""
        from apps.core import events

        from . import notify, tasks  # noqa: F401 (registers the Celery jobs)
        from .services import follow_up

        events.subscribe(
            "survey.response_completed",
            follow_up.on_survey_response_completed,
            when="after_commit",
        )

        # The customer timeline, "download my data", erasure and merging.
        from apps.core import privacy, timeline
        from apps.customers import demo

        from . import member_selectors
        from . import privacy as sections
        from .demo import seed_complaints

        timeline.register(
            "tickets",
            rows=member_selectors.tickets_timeline_rows,
            key="created_at",
            events=member_selectors.tickets_timeline,
        )
        demo.register("complaints", seed_complaints, order=30)  # after surveys: detractors exist
        privacy.register(
            "complaints",
            export=sections.export_tickets,
            erase=sections.erase,
            merge=sections.merge,
            merge_order=700,
        )

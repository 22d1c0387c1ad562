from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "apps.surveys"
    label = "surveys"
    verbose_name = _("Surveys")

    def ready(self) -> None:
        """The app's wiring, in one visible place (see ``manage.py events``)."""
        from apps.core import events

        from . import tasks  # noqa: F401 (registers the Celery jobs)
        from .services import invitations

        events.subscribe("survey.invited", invitations.on_survey_invited, when="after_commit")
        events.subscribe("ticket.resolved", invitations.on_ticket_resolved, when="after_commit")

        # The customer timeline, "download my data", erasure and merging (after the customers
        # app's and loyalty's mergers: surveys sit above them).
        from apps.core import privacy, timeline
        from apps.customers import demo

        from . import member_selectors
        from . import privacy as sections
        from .demo import seed_surveys

        timeline.register(
            "surveys",
            rows=member_selectors.surveys_timeline_rows,
            key="sent_at",
            events=member_selectors.surveys_timeline,
        )
        demo.register("surveys", seed_surveys, order=20)  # after loyalty (10): tiers exist
        privacy.register(
            "survey_invitations",
            export=sections.export_invitations,
            merge=sections.merge,
            merge_order=600,
        )
        privacy.register("survey_responses", export=sections.export_responses, erase=sections.erase)

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

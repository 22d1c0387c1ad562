from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        """The app's wiring, in one visible place (see ``manage.py events``): every event an
        endpoint may subscribe to is read from the outbox after commit, when some active
        endpoint wants it (``selectors.event_wanted``)."""
        from apps.core import events

        from . import tasks  # noqa: F401 (registers the Celery jobs)
        from .catalogue import WEBHOOK_EVENTS
        from .selectors import event_wanted
        from .services import on_event

        for name in WEBHOOK_EVENTS:
            events.subscribe(name, on_event, when="after_commit", wanted=event_wanted)

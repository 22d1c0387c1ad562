from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        """The app's wiring, in one visible place (see ``manage.py events``): every event an
        endpoint may subscribe to is read from the outbox after commit."""
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from apps.core import events

        from . import tasks  # noqa: F401 (registers the Celery jobs)
        from .catalogue import WEBHOOK_EVENTS
        from .models import Endpoint
        from .selectors import event_names_forget, event_wanted
        from .services import on_event

        for name in WEBHOOK_EVENTS:
            events.subscribe(name, on_event, when="after_commit", wanted=event_wanted)

        # Whichever way an endpoint changes (services, admin, the sender disabling it), the
        # cached list of subscribed events is read again after the change commits.
        def forget(**kwargs) -> None:
            event_names_forget()
            transaction.on_commit(event_names_forget)

        for signal, uid in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(forget, sender=Endpoint, weak=False, dispatch_uid=f"endpoint-{uid}")

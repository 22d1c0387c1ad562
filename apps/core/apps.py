from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from django.core import checks
        from django.core.signals import request_finished

        from . import observability
        from .private_files import private_root_check
        from .request_id import request_id_clear

        checks.register(private_root_check, checks.Tags.files)
        # Request id into tasks, task metrics, scheduled-job records (Celery's signals).
        observability.celery_signals_connect()
        request_finished.connect(request_id_clear, dispatch_uid="core.request_id_clear")

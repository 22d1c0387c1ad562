from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from django.core import checks

        from .private_files import private_root_check

        checks.register(private_root_check, checks.Tags.files)

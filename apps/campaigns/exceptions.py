from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict, NotFound


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    default_message = _("No such campaign.")


class CampaignStateConflict(Conflict):
    code = "campaign_state"
    default_message = _("The campaign cannot do that in its current state.")

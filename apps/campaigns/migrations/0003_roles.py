from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, MARKETING, SUPPORT_AGENT, grant

AGENT = ["view_campaign", "view_message"]
MARKETER = AGENT + ["add_campaign", "change_campaign", "delete_campaign", "view_variant",
                    "add_variant", "change_variant", "delete_variant", "send_campaign",
                    "view_campaign_results", "view_campaignsettings"]
MANAGER_ALL = sorted(set(MARKETER + ["change_campaignsettings"]))


def grant_roles(apps, schema_editor):
    grant(apps, "campaigns", {SUPPORT_AGENT: AGENT, MARKETING: MARKETER, MANAGER: MANAGER_ALL,
                              ADMINISTRATOR: MANAGER_ALL})


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_beat_schedule"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]

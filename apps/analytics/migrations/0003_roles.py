from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, MARKETING, SUPPORT_AGENT, grant

AGENT = ["view_customermetrics", "view_atriskentry"]
SEGMENTS = ["view_segment", "add_segment", "change_segment", "delete_segment",
            "view_segmentsnapshot", "add_segmentsnapshot"]
MARKETER = AGENT + SEGMENTS + ["view_modelfit"]
MANAGER_ALL = sorted(set(MARKETER + ["change_atriskentry", "view_analyticssettings",
                                     "change_analyticssettings"]))


def grant_roles(apps, schema_editor):
    grant(apps, "analytics", {SUPPORT_AGENT: AGENT, MARKETING: MARKETER, MANAGER: MANAGER_ALL,
                              ADMINISTRATOR: MANAGER_ALL})


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_beat_schedule"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]

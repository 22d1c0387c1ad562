from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, grant

REPORTS = [
    "view_reportsubscription",
    "add_reportsubscription",
    "change_reportsubscription",
    "delete_reportsubscription",
    "view_reportdelivery",
]


def grant_reports(apps, schema_editor):
    grant(apps, "analytics", {MANAGER: REPORTS, ADMINISTRATOR: REPORTS})


class Migration(migrations.Migration):
    dependencies = [("analytics", "0007_report_subscriptions"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(grant_reports, migrations.RunPython.noop)]

from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, grant

KPI = ["view_kpisnapshot"]


def grant_kpi(apps, schema_editor):
    grant(apps, "analytics", {MANAGER: KPI, ADMINISTRATOR: KPI})


class Migration(migrations.Migration):
    dependencies = [("analytics", "0005_kpi_snapshot_schedule"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(grant_kpi, migrations.RunPython.noop)]

from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, grant


def grant_roles(apps, schema_editor):
    # Calendars are the Administrator's to load (next year's holidays); managers read them.
    grant(apps, "core", {
        MANAGER: ["view_businesscalendar"],
        ADMINISTRATOR: ["view_businesscalendar", "add_businesscalendar",
                        "change_businesscalendar"],
    })


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_user_phone"), ("core", "0006_business_calendar")]
    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]

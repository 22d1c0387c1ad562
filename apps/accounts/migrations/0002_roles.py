from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, ROLES, grant


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    grant(apps, "accounts", {ADMINISTRATOR: ["view_user", "add_user", "change_user", "view_apikey", "change_apikey"]})
    grant(apps, "core", {MANAGER: ["view_auditevent"], ADMINISTRATOR: ["view_auditevent"]})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("core", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]

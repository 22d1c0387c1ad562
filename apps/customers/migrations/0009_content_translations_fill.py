from django.db import migrations

from apps.core.content import fill_content_columns


def fill(apps, schema_editor):
    fill_content_columns(apps, "customers.Store", ["name"])
    fill_content_columns(apps, "customers.PortalMessage", ["subject", "body"])


class Migration(migrations.Migration):
    dependencies = [("customers", "0008_content_translations")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]

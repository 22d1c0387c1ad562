from django.db import migrations

from apps.core.content import fill_content_columns

CONTENT = {
    "loyalty.Programme": ["name"],
    "loyalty.Tier": ["name", "benefits"],
    "loyalty.EarnRule": ["name"],
    "loyalty.Reward": ["name", "description"],
    "loyalty.Badge": ["name", "description"],
}


def fill(apps, schema_editor):
    for label, fields in CONTENT.items():
        fill_content_columns(apps, label, fields)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0009_content_translations")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]

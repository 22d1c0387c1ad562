from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, MARKETING, SUPPORT_AGENT, grant
from apps.core.db import PostgresOnlySQL

AGENT = [
    "view_customer", "add_customer", "change_customer", "tag_customer",
    "view_consentrecord", "add_consentrecord",
    "view_order", "view_orderline", "view_refund",
    "view_interaction", "add_interaction",
    "view_tag", "view_store",
]
MARKETER = [
    "view_customer", "tag_customer", "view_consentrecord", "view_order", "view_orderline",
    "view_interaction", "view_tag", "add_tag", "change_tag", "view_store",
]
MANAGER_ONLY = [
    "export_customer", "export_order", "import_customer", "import_order",
    "delete_tag", "add_store", "change_store",
]


def grant_roles(apps, schema_editor):
    grant(apps, "customers", {
        SUPPORT_AGENT: AGENT,
        MARKETING: MARKETER,
        MANAGER: sorted(set(AGENT + MARKETER + MANAGER_ONLY)),
        ADMINISTRATOR: sorted(set(AGENT + MARKETER + MANAGER_ONLY + ["delete_store", "change_tag"])),
    })


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial"), ("accounts", "0002_roles")]
    operations = [
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS pg_trgm", "SELECT 1"),
        PostgresOnlySQL(
            "CREATE INDEX IF NOT EXISTS customers_customer_search_trgm "
            "ON customers_customer USING gin (search_text gin_trgm_ops)",
            "DROP INDEX IF EXISTS customers_customer_search_trgm",
        ),
        migrations.RunPython(grant_roles, migrations.RunPython.noop),
    ]

"""The configuration version (``apps.loyalty.configuration``): one row, moved by statement
triggers on the programme, tiers, earn rules (and their tiers) and badges, from a sequence so
that a number never comes back after a rollback. PostgreSQL only; elsewhere nothing is cached."""

from django.db import migrations, models

from apps.core.db import PostgresOnlySQL

TABLES = (
    "loyalty_programme",
    "loyalty_tier",
    "loyalty_earnrule",
    "loyalty_earnrule_tiers",
    "loyalty_badge",
)

FUNCTION = """
CREATE SEQUENCE IF NOT EXISTS loyalty_configuration_seq;
CREATE OR REPLACE FUNCTION loyalty_configuration_bump() RETURNS trigger AS $$
BEGIN
    INSERT INTO loyalty_configurationversion (id, version)
    VALUES (1, nextval('loyalty_configuration_seq'))
    ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

TRIGGER = """
CREATE TRIGGER {table}_configuration_bump
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION loyalty_configuration_bump();
"""


FORWARDS = (
    FUNCTION
    + "".join(TRIGGER.format(table=table) for table in TABLES)
    + "INSERT INTO loyalty_configurationversion (id, version) "  # nosec B608  # constant table names
    "VALUES (1, nextval('loyalty_configuration_seq'));"
)

BACKWARDS = (
    "".join(f"DROP TRIGGER IF EXISTS {table}_configuration_bump ON {table};" for table in TABLES)
    + "DROP FUNCTION IF EXISTS loyalty_configuration_bump();"
    + "DROP SEQUENCE IF EXISTS loyalty_configuration_seq;"
)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0017_couponbatch_name_translations"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfigurationVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
            ],
            options={"verbose_name": "configuration version"},
        ),
        PostgresOnlySQL(FORWARDS, BACKWARDS),
    ]

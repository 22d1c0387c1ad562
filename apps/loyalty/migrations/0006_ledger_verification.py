"""LedgerVerification (one row per verification run), who may see it (Managers and
Administrators: the staff ledger page), and the nightly run in the beat schedule."""

import django.utils.timezone
from django.db import migrations, models

from apps.accounts.roles import ADMINISTRATOR, MANAGER, grant
from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

TASK_NAME = "loyalty: verify ledger and send the signed digest"


def grant_ledger_page(apps, schema_editor):
    grant(apps, "loyalty", {MANAGER: ["view_ledgerverification"],
                            ADMINISTRATOR: ["view_ledgerverification"]})


def schedule(apps, schema_editor):
    # After the other nightly loyalty jobs (02:10-03:05), so the digest records their rows.
    periodic_task_upsert(
        apps,
        name=TASK_NAME,
        task="loyalty.ledger_verify",
        minute="30",
        hour="4",
        description="Nightly verify_ledger and signed digest e-mailed to Managers; "
        "see apps/loyalty/services/ledger_checks.py.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[TASK_NAME])


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0005_earn_rule_event"),
        ("accounts", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerVerification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="started")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished")),
                ("ok", models.BooleanField(null=True, verbose_name="ledger intact")),
                ("accounts_checked", models.PositiveIntegerField(default=0, verbose_name="accounts checked")),
                ("rows_checked", models.PositiveBigIntegerField(default=0, verbose_name="ledger rows checked")),
                ("fault_count", models.PositiveIntegerField(default=0, verbose_name="faults")),
                ("faults", models.TextField(blank=True, verbose_name="first faults")),
                ("chains", models.PositiveIntegerField(default=0, verbose_name="chains in the digest")),
                ("merkle_root", models.CharField(blank=True, max_length=64, verbose_name="digest Merkle root")),
                ("key_id", models.CharField(blank=True, max_length=16, verbose_name="key id")),
                ("digest_sent_to", models.PositiveIntegerField(default=0, verbose_name="digest e-mailed to")),
            ],
            options={
                "verbose_name": "ledger verification",
                "verbose_name_plural": "ledger verifications",
                "ordering": ["-started_at", "-id"],
                "indexes": [models.Index(fields=["-started_at", "-id"], name="loyalty_ledgerver_recent")],
            },
        ),
        migrations.RunPython(grant_ledger_page, migrations.RunPython.noop),
        migrations.RunPython(schedule, unschedule),
    ]

"""The customer-value jobs in django-celery-beat's database schedule: metrics nightly at 02:30
(after points expire and tiers are reviewed), the at-risk list on Monday mornings at 08:00 in
the business time zone. Re-runnable."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

RECOMPUTE = "analytics: recompute customer metrics"
AT_RISK = "analytics: weekly at-risk list"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=RECOMPUTE,
        task="analytics.recompute_metrics",
        hour="2",
        minute="30",
        description="RFM, CLV, churn risk and health for every customer; see apps/analytics.",
    )
    periodic_task_upsert(
        apps,
        name=AT_RISK,
        task="analytics.at_risk_weekly",
        hour="8",
        minute="0",
        day_of_week="1",
        description="High-value customers whose churn risk rose: the list and the managers' mail.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[RECOMPUTE, AT_RISK])


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]

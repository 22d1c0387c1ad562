"""The survey jobs in django-celery-beat's database schedule (local time).

After-purchase invitations go out once a day at 10:00, a civil hour to be asked something (the
service catches up on a missed day through its look-back). The e-mail sweep runs every ten
minutes. Re-runnable: rows are matched by name, so running it again updates instead of
duplicating."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

AFTER_PURCHASE = "surveys: after-purchase invitations"
EMAIL_SWEEP = "surveys: invitation e-mail sweep"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=AFTER_PURCHASE,
        task="surveys.invitations_after_purchase",
        minute="0",
        hour="10",
        description="Daily survey job; see apps/surveys/tasks.py.",
    )
    periodic_task_upsert(
        apps,
        name=EMAIL_SWEEP,
        task="surveys.invitation_emails_sweep",
        every_minutes=10,
        description="Sends invitation e-mails whose outbox delivery was lost; see "
        "apps/surveys/tasks.py.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[AFTER_PURCHASE, EMAIL_SWEEP])


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]

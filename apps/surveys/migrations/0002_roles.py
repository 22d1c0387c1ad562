from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, MARKETING, SUPPORT_AGENT, grant

VIEW = ["view_survey", "view_question", "view_choice", "view_invitation", "view_response",
        "view_answer"]
# Agents see a member's responses on the 360 page, but not what identified members wrote.
AGENT = VIEW
MARKETER = VIEW + [
    "add_survey", "change_survey", "add_question", "change_question", "delete_question",
    "add_choice", "change_choice", "delete_choice", "add_invitation",
    "view_text_answers", "export_responses",
]
MANAGER_ALL = sorted(set(MARKETER + ["delete_survey"]))


def grant_roles(apps, schema_editor):
    grant(apps, "surveys", {SUPPORT_AGENT: AGENT, MARKETING: MARKETER, MANAGER: MANAGER_ALL,
                            ADMINISTRATOR: MANAGER_ALL})


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]

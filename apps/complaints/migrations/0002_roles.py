from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, MARKETING, SUPPORT_AGENT, grant

VIEW = ["view_ticket", "view_ticketmessage", "view_ticketevent", "view_category", "view_team",
        "view_slapolicy", "view_escalationlevel", "view_savedreply", "view_compensation"]
AGENT = VIEW + ["add_ticket", "work_ticket", "assign_ticket", "add_ticketmessage",
                "add_compensation"]
MARKETER = ["view_ticket", "view_category", "view_complaint_reports"]
CONFIG = [f"{verb}_{model}" for model in ("category", "team", "slapolicy", "escalationlevel",
                                          "savedreply") for verb in ("add", "change", "delete")]
MANAGER_ALL = sorted(set(AGENT + CONFIG + ["approve_compensation", "view_complaint_reports",
                                           "view_complaintsettings", "change_complaintsettings"]))


def grant_roles(apps, schema_editor):
    grant(apps, "complaints", {SUPPORT_AGENT: AGENT, MARKETING: MARKETER, MANAGER: MANAGER_ALL,
                               ADMINISTRATOR: MANAGER_ALL})


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial"), ("accounts", "0002_roles")]
    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]

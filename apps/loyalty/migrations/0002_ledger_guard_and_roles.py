from django.db import migrations

from apps.accounts.roles import ADMINISTRATOR, MANAGER, MARKETING, SUPPORT_AGENT, grant
from apps.core.db import PostgresOnlySQL

VIEW = [
    "view_loyaltyaccount", "view_pointstransaction", "view_pointslot", "view_tierhistory",
    "view_reward", "view_redemption", "view_coupon", "view_couponbatch", "view_referral",
    "view_badge", "view_customerbadge", "view_tier", "view_earnrule", "view_programme",
    "view_pointsadjustment",
]
AGENT = VIEW + ["adjust_points", "fulfil_redemption"]
MARKETER = VIEW + [
    "add_reward", "change_reward", "add_earnrule", "change_earnrule", "add_couponbatch",
    "add_badge", "change_badge",
]
MANAGER_ALL = sorted(set(AGENT + MARKETER + [
    "approve_adjustment", "view_liability", "change_programme", "add_tier", "change_tier",
    "delete_earnrule", "delete_reward",
]))

GUARD = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only: % on loyalty_pointstransaction refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER loyalty_pointstransaction_append_only
    BEFORE UPDATE OR DELETE ON loyalty_pointstransaction
    FOR EACH ROW EXECUTE FUNCTION loyalty_ledger_append_only();
"""
UNGUARD = """
DROP TRIGGER IF EXISTS loyalty_pointstransaction_append_only ON loyalty_pointstransaction;
DROP FUNCTION IF EXISTS loyalty_ledger_append_only();
"""


def grant_roles(apps, schema_editor):
    grant(apps, "loyalty", {SUPPORT_AGENT: AGENT, MARKETING: MARKETER, MANAGER: MANAGER_ALL,
                            ADMINISTRATOR: MANAGER_ALL})


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial"), ("accounts", "0002_roles")]
    operations = [
        PostgresOnlySQL(GUARD, UNGUARD),
        migrations.RunPython(grant_roles, migrations.RunPython.noop),
    ]

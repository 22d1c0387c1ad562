"""The ledger stays append-only, with one narrow exception for erasure (invariant 10): inside a
transaction that set ``clientele.ledger_erasure = 'on'`` (SET LOCAL, see
``apps.loyalty.privacy``), an UPDATE may change the free-text ``reason`` of a row and nothing
else. ``reason`` is not part of the hash chain, so ``verify_ledger`` still passes afterwards;
points, balances, keys, links and times can never change, and DELETE is always refused."""

from django.db import migrations

from apps.core.db import PostgresOnlySQL

GUARD = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('clientele.ledger_erasure', true) = 'on'
       AND (to_jsonb(NEW) - 'reason') = (to_jsonb(OLD) - 'reason') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the points ledger is append-only: % on loyalty_pointstransaction refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""
STRICT = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only: % on loyalty_pointstransaction refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0003_beat_schedule")]
    operations = [PostgresOnlySQL(GUARD, STRICT)]

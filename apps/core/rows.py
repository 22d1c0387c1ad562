"""One unsaved model instance as the columns and values ``Model.save`` would insert, for hot
paths that write several related rows in one PostgreSQL statement (``INSERT … RETURNING`` in
a ``WITH``): the order with its lines, a points lot with its ledger row and the account's
counters. Defaults, ``auto_now`` and field adaptation (JSON, decimals, time zones) are the
model's own, so the row is the one the ORM would have written."""

from django.db import connection


def insert_parts(instance, *, skip: tuple[str, ...] = ()) -> tuple[list[str], list]:
    """(quoted column names, database values) of ``instance`` as an INSERT would write them:
    every concrete field but the primary key and those whose attname is in ``skip`` (the
    caller supplies them in SQL, such as a foreign key returned by an earlier ``WITH`` part).
    Runs ``pre_save`` (so ``auto_now`` fields are stamped on the instance, as ``save`` does)."""
    columns, values = [], []
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.attname in skip:
            continue
        value = field.pre_save(instance, add=True)
        columns.append(connection.ops.quote_name(field.column))
        values.append(field.get_db_prep_save(value, connection=connection))
    return columns, values


def mark_saved(instance, pk: int) -> None:
    """Make ``instance`` what ``save`` would have left: its primary key set, no longer adding."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias

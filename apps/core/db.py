"""Database helpers that differ between PostgreSQL (production, CI) and SQLite (laptop demo)."""

import datetime as dt
from collections.abc import Iterable

from django.db import connection, connections, migrations, router
from django.db.models import F, Lookup, Q


def is_postgres(conn=None) -> bool:
    return (conn or connection).vendor == "postgresql"


def stand_ins_replaced(params: Iterable, values: dict) -> list:
    """The parameters of SQL compiled once for stand-ins, with each stand-in replaced by this
    use's value. Django can take longer to compile an annotated or combined queryset than the
    database takes to run it, so a hot path compiles it once per process for stand-in values
    that nothing real equals (an id no row has, a time long past) and binds its own values in
    their places (the order path's lock query, the timeline's union)."""
    return [values.get(p, p) if isinstance(p, int | str | dt.datetime) else p for p in params]


class _EqualsAnyId(Lookup):
    """``lhs = ANY(%s::bigint[])`` with a list of ids as the one parameter (used by
    ``in_ids``, never registered on a field)."""

    lookup_name = "any_id"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, list(self.rhs)]


def in_ids(field: str, ids: Iterable[int]) -> Q | Lookup:
    """A filter ``field IN ids`` for a chunk of ids. On PostgreSQL the ids go as one array
    parameter (``field = ANY(%s::bigint[])``): the SQL is the same whatever the chunk's size,
    where an ``IN`` list of 2,000 ids is compiled and split by the driver placeholder by
    placeholder. Elsewhere, ``__in``."""
    ids = list(ids)
    if not is_postgres():
        return Q(**{f"{field}__in": ids})
    return _EqualsAnyId(F(field), ids)


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that only runs on PostgreSQL (trigram indexes, triggers); a no-op on SQLite."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _pg_array_type(field, conn) -> str:
    # An auto primary key's db_type is "bigserial", which is no type to cast to.
    kind = field.rel_db_type(conn) if field.primary_key else field.db_type(conn)
    return f"{kind}[]"


def bulk_insert(model, objs: list, *, set_pks: bool = False) -> None:
    """Insert many new rows in one statement; ``set_pks`` fills in their primary keys.

    On PostgreSQL: ``INSERT … SELECT … FROM unnest(%s::type[], …) WITH ORDINALITY``, one array
    parameter per column, so the SQL is the same whatever the number of rows and Django's
    per-row, per-field compilation (most of ``bulk_create``'s time on big batches) is skipped.
    Elsewhere: ``bulk_create``. Field defaults and ``pre_save`` (``auto_now_add``) apply as in
    ``save()``; the primary key must be database-generated."""
    if not objs:
        return
    conn = connections[router.db_for_write(model)]
    if conn.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    qn = conn.ops.quote_name
    arrays = [[f.get_db_prep_save(f.pre_save(obj, True), conn) for obj in objs] for f in fields]
    names = ", ".join(qn(f.column) for f in fields)
    aliases = ", ".join(f"c{i}" for i in range(len(fields)))
    unnest = ", ".join(f"%s::{_pg_array_type(f, conn)}" for f in fields)
    pk = model._meta.pk
    # Identifiers come from model metadata (quoted); every value is a bound array parameter.
    returning = f" RETURNING {qn(pk.column)}" if set_pks else ""
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({names}) "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        f"SELECT {aliases} FROM unnest({unnest}) WITH ORDINALITY AS t({aliases}, ord) "
        f"ORDER BY ord{returning}"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, arrays)
        if set_pks:
            for obj, (value,) in zip(objs, cursor.fetchall(), strict=True):
                setattr(obj, pk.attname, value)
                obj._state.adding = False
                obj._state.db = conn.alias
    if not set_pks:
        for obj in objs:
            obj._state.adding = False


def bulk_update_fields(model, objs: list, fields: list[str]) -> None:
    """Write ``fields`` of many saved rows from their in-memory values in one statement.

    On PostgreSQL: ``UPDATE … FROM unnest(%s::type[], …)`` keyed on the primary key — constant
    SQL, where ``bulk_update`` builds a ``CASE WHEN`` per row and field. Elsewhere (SQLite, in
    process): one constant ``UPDATE … WHERE pk = %s`` run for every row with ``executemany``,
    which is what ``bulk_update``'s ``CASE WHEN`` costs many times over to compile. ``auto_now``
    fields among ``fields`` are set to now, as ``save()`` would."""
    if not objs:
        return
    conn = connections[router.db_for_write(model)]
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    qn = conn.ops.quote_name
    pk = meta.pk
    if conn.vendor != "postgresql":
        rows = [
            [
                *[f.get_db_prep_save(f.pre_save(obj, False), conn) for f in targets],
                pk.get_db_prep_value(obj.pk, conn),
            ]
            for obj in objs
        ]
        sets = ", ".join(f"{qn(f.column)} = %s" for f in targets)
        # Identifiers come from model metadata (quoted); every value is a bound parameter.
        sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(pk.column)} = %s"  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        with conn.cursor() as cursor:
            cursor.executemany(sql, rows)
        return
    columns = [pk, *targets]
    arrays = [
        [pk.get_db_prep_value(obj.pk, conn) for obj in objs],
        *[[f.get_db_prep_save(f.pre_save(obj, False), conn) for obj in objs] for f in targets],
    ]
    aliases = [f"c{i}" for i in range(len(columns))]
    sets = ", ".join(f"{qn(f.column)} = v.{a}" for f, a in zip(targets, aliases[1:], strict=True))
    unnest = ", ".join(f"%s::{_pg_array_type(f, conn)}" for f in columns)
    # Identifiers come from model metadata (quoted); every value is a bound array parameter.
    sql = (
        f"UPDATE {qn(meta.db_table)} AS m SET {sets} "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        f"FROM unnest({unnest}) AS v({', '.join(aliases)}) "
        f"WHERE m.{qn(pk.column)} = v.c0"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, arrays)


def _array_literal(values: list) -> str | list:
    """A PostgreSQL array literal (``{1,2,"a\\"b",NULL}``) of ints and strings, built in one
    pass: psycopg adapts a list element by element, which costs microseconds per element. Other
    values go back as the list, for psycopg to adapt."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, int):
            parts.append(str(int(value)))
        elif isinstance(value, str):
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            return values
    return "{" + ",".join(parts) + "}"


def bulk_update_rows(
    model, fields: list[str], rows: list[tuple], *, same: dict | None = None
) -> None:
    """Write plain values to many rows in one statement: each of ``rows`` is ``(pk, value of
    each of fields)``, values as the database takes them (numbers, strings, aware datetimes);
    ``same`` sets other fields to one value on every row (``{"updated_at": now}``).

    For set-based jobs that compute counters without model instances (``bulk_update_fields``
    when you hold instances). On PostgreSQL ``UPDATE … FROM unnest(%s::type[], …)`` keyed on the
    primary key, with int and string columns sent as array literals; elsewhere an
    ``executemany`` of one ``UPDATE … WHERE pk = %s``. No ``auto_now``: pass the time."""
    if not rows:
        return
    conn = connections[router.db_for_write(model)]
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    constants = [(meta.get_field(name), value) for name, value in (same or {}).items()]
    qn = conn.ops.quote_name
    pk = meta.pk
    fixed = [f"{qn(f.column)} = %s" for f, _ in constants]
    fixed_values = [f.get_db_prep_save(v, conn) for f, v in constants]
    if conn.vendor != "postgresql":
        sets = ", ".join([*(f"{qn(f.column)} = %s" for f in targets), *fixed])
        adapted = [
            [
                *[f.get_db_prep_save(v, conn) for f, v in zip(targets, row[1:], strict=True)],
                *fixed_values,
                pk.get_db_prep_value(row[0], conn),
            ]
            for row in rows
        ]
        # Identifiers come from model metadata (quoted); every value is a bound parameter.
        sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(pk.column)} = %s"  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        with conn.cursor() as cursor:
            cursor.executemany(sql, adapted)
        return
    columns = [pk, *targets]
    arrays = [_array_literal(list(values)) for values in zip(*rows, strict=True)]
    aliases = [f"c{i}" for i in range(len(columns))]
    sets = ", ".join(
        [*(f"{qn(f.column)} = v.{a}" for f, a in zip(targets, aliases[1:], strict=True)), *fixed]
    )
    unnest = ", ".join(f"%s::{_pg_array_type(f, conn)}" for f in columns)
    # Identifiers come from model metadata (quoted); every value is a bound parameter.
    sql = (
        f"UPDATE {qn(meta.db_table)} AS m SET {sets} "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        f"FROM unnest({unnest}) AS v({', '.join(aliases)}) "
        f"WHERE m.{qn(pk.column)} = v.c0"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, [*fixed_values, *arrays])

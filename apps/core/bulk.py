"""Set-based writes of many computed rows (nightly metrics, snapshots): one statement per batch,
not one model instance per row.

``rows_upsert`` inserts rows or, where the ``conflict`` column already holds the key, updates
them in place. On PostgreSQL the rows are streamed with ``COPY`` into a temporary table and
merged with one ``INSERT … SELECT … ON CONFLICT DO UPDATE``; elsewhere (SQLite on a laptop) an
``executemany`` of the same upsert. Call it inside a transaction. Values go as they are: dates,
numbers, ``None``; a JSON column takes its JSON text."""

from collections.abc import Iterable, Sequence

from django.db import connection, models

COPY_BATCH = 50_000


def _upsert_sql(table: str, columns: Sequence[str], conflict: str, source: str) -> str:
    q = connection.ops.quote_name
    cols = ", ".join(q(c) for c in columns)
    updates = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in columns if c != conflict)
    return (
        f"INSERT INTO {q(table)} ({cols}) {source} "  # nosec B608  # quoted identifiers from model metadata
        f"ON CONFLICT ({q(conflict)}) DO UPDATE SET {updates}"
    )


def rows_upsert(
    *, model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], conflict: str
) -> int:
    """Upsert ``rows`` (tuples in ``columns`` order, database column names) into ``model``'s
    table; returns how many rows were written."""
    table = model._meta.db_table
    rows = iter(rows)
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stage = f"stage_{table}"
            q = connection.ops.quote_name
            cols = ", ".join(q(c) for c in columns)
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {q(stage)} (LIKE {q(table)}) ON COMMIT DROP"
            )
            while True:
                cursor.execute(f"TRUNCATE {q(stage)}")
                count = 0
                with cursor.copy(f"COPY {q(stage)} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                        if count >= COPY_BATCH:
                            break
                if not count:
                    break
                cursor.execute(
                    _upsert_sql(table, columns, conflict, f"SELECT {cols} FROM {q(stage)}")  # noqa: S608 (quoted identifiers from model metadata)  # nosec B608
                )
                written += count
        else:
            marks = ", ".join(["%s"] * len(columns))
            batch = list(rows)
            if batch:
                cursor.executemany(
                    _upsert_sql(table, columns, conflict, f"VALUES ({marks})"), batch
                )
            written = len(batch)
    return written


def rows_insert(
    *, model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence]
) -> int:
    """Insert new ``rows`` (tuples in ``columns`` order, database column names; no conflicts
    expected — a unique violation aborts the caller's transaction) into ``model``'s table: one
    ``COPY`` on PostgreSQL, an ``executemany`` elsewhere. Returns how many rows were written."""
    if not rows:
        return 0
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    cols = ", ".join(q(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # The driver takes only plain values: adapt as the model's fields would.
            by_column = {f.column: f for f in model._meta.concrete_fields}
            fields = [by_column[c] for c in columns]
            adapted = [
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
                for row in rows
            ]
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", adapted)  # noqa: S608 (quoted identifiers, values bound)  # nosec B608
    return len(rows)

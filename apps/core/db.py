"""Database helpers that differ between PostgreSQL (production, CI) and SQLite (laptop demo)."""

from django.db import connection, migrations


def is_postgres(conn=None) -> bool:
    return (conn or connection).vendor == "postgresql"


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that only runs on PostgreSQL (trigram indexes, triggers); a no-op on SQLite."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

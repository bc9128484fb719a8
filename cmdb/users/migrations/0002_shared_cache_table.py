"""The database cache's table (``CACHES["shared"]`` without Redis): login throttling counts there.

Created here rather than by a separate ``createcachetable`` step, so that every database that is
migrated (SQLite or PostgreSQL, tests included) has it.
"""

from django.db import migrations

TABLE = "cmdb_cache"


def create(apps, schema_editor):
    from django.core.management.commands.createcachetable import Command

    command = Command()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]

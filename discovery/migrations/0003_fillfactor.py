"""Leave room on the pages of tables that discovery updates on every report.

A re-ingest rewrites a host's ``last_seen`` and ``identified_by`` and its registry
row's ``last_seen``: no indexed column, so PostgreSQL can update in place (a HOT
update, no entry in any of the tables' 21 indexes) when the row's page has free
space.  With the default fill factor of 100 the pages are full after the first
inventory; 80 leaves the room.  Only pages written from now on are affected.
"""

from django.db import migrations


def _fillfactor(value: int):  # noqa: ANN202 - migration helper
    def run(apps, schema_editor):  # noqa: ANN001, ANN202
        if schema_editor.connection.vendor != "postgresql":
            return
        for model in (apps.get_model("discovery", "Host"), apps.get_model("core", "ConfigurationItem")):
            table = schema_editor.quote_name(model._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")

    return run


class Migration(migrations.Migration):
    dependencies = [("discovery", "0002_host_record_link"), ("core", "0003_changelog_append_only")]

    operations = [migrations.RunPython(_fillfactor(80), _fillfactor(100))]

"""The keyed chain's key version column, the erasure record, and a trigger that only lets erasure through.

``key_version`` (0 for every existing record: the legacy unkeyed scheme) says which audit key
signed a record.  ``erase`` is the action of an erasure record, ``core.erase_objectchange``
the permission to make one (superusers only by default).

The PostgreSQL trigger of ``0003`` allowed any UPDATE that set ``erased``, which hid a record's
content without a trace.  Now, per row (``core_objectchange_append_only``): no DELETE; the id,
the chain columns and ``key_version`` never change; the payload changes only together with the
transition to ``erased``, which must blank all of it, may not hit an erasure record, and needs
the erasure service's transaction-local setting ``cmdb.audit_erasure``; an erased row never
changes again.  Per statement (``core_objectchange_erasure_recorded``, with the statement's
transition tables): every row the statement erased must be listed by the erasure record that
setting names, which therefore has to exist before the UPDATE.  A plain UPDATE is refused; an
attacker who also forges the erasure record writes a record that ``cmdb audit verify`` rejects,
because it cannot carry a valid HMAC without the audit key.
"""

from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError

ROW_TRIGGER = r"""
CREATE OR REPLACE FUNCTION core_objectchange_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'core_objectchange is append-only';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.user_id IS DISTINCT FROM OLD.user_id
       OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
       OR NEW.related_object_type_id IS DISTINCT FROM OLD.related_object_type_id
       OR NEW.related_object_id IS DISTINCT FROM OLD.related_object_id
       OR NEW.time IS DISTINCT FROM OLD.time OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.changed_object_type_id IS DISTINCT FROM OLD.changed_object_type_id
       OR NEW.changed_object_id IS DISTINCT FROM OLD.changed_object_id
       OR NEW.request_id IS DISTINCT FROM OLD.request_id OR NEW.source IS DISTINCT FROM OLD.source
       OR NEW.salt IS DISTINCT FROM OLD.salt OR NEW.data_digest IS DISTINCT FROM OLD.data_digest
       OR NEW.prev_hash IS DISTINCT FROM OLD.prev_hash OR NEW.chain_hash IS DISTINCT FROM OLD.chain_hash
       OR NEW.key_version IS DISTINCT FROM OLD.key_version THEN
        RAISE EXCEPTION 'core_objectchange chain columns are immutable';
    END IF;
    IF OLD.erased THEN
        IF NEW IS DISTINCT FROM OLD THEN
            RAISE EXCEPTION 'core_objectchange #% is erased and stays as it is', OLD.id;
        END IF;
        RETURN NEW;
    END IF;
    IF NOT NEW.erased THEN
        IF NEW.prechange_data IS DISTINCT FROM OLD.prechange_data
           OR NEW.postchange_data IS DISTINCT FROM OLD.postchange_data
           OR NEW.user_name IS DISTINCT FROM OLD.user_name OR NEW.object_repr IS DISTINCT FROM OLD.object_repr THEN
            RAISE EXCEPTION 'core_objectchange payload may only change by erasure';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.action = 'erase' THEN
        RAISE EXCEPTION 'core_objectchange #% is an erasure record; erasure records are never erased', OLD.id;
    END IF;
    IF NEW.user_name <> '' OR NEW.object_repr <> '[erased]'
       OR NEW.prechange_data IS NOT NULL OR NEW.postchange_data IS NOT NULL THEN
        RAISE EXCEPTION 'core_objectchange #%: an erasure blanks the whole payload', OLD.id;
    END IF;
    IF coalesce(current_setting('cmdb.audit_erasure', true), '') = '' THEN
        RAISE EXCEPTION 'core_objectchange #%: erased may only be set by the erasure service, which records '
                        'the erasure (cmdb audit erase)', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION core_objectchange_erasure_recorded() RETURNS trigger AS $$
DECLARE
    erasure bigint := nullif(current_setting('cmdb.audit_erasure', true), '')::bigint;
    unlisted bigint;
BEGIN
    SELECT n.id INTO unlisted
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE n.erased AND NOT o.erased
       AND (erasure IS NULL OR n.id >= erasure OR n.id NOT IN (
            SELECT listed::bigint
              FROM core_objectchange e, jsonb_array_elements_text(e.postchange_data -> 'erased') AS listed
             WHERE e.id = erasure AND e.action = 'erase' AND NOT e.erased))
     LIMIT 1;
    IF unlisted IS NOT NULL THEN
        RAISE EXCEPTION 'core_objectchange #%: no erasure record lists it (cmdb audit erase records every erasure)',
            unlisted;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS core_objectchange_erasure_recorded ON core_objectchange;
CREATE TRIGGER core_objectchange_erasure_recorded AFTER UPDATE ON core_objectchange
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION core_objectchange_erasure_recorded();
"""

DROP = """
DROP TRIGGER IF EXISTS core_objectchange_erasure_recorded ON core_objectchange;
DROP FUNCTION IF EXISTS core_objectchange_erasure_recorded();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_TRIGGER, params=None)  # no placeholders: RAISE uses % itself


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_objectchange WHERE key_version > 0 OR action = 'erase'")
        (keyed,) = cursor.fetchone()
    if keyed:
        # Dropping key_version would turn these records into unverifiable "legacy" ones.
        raise IrreversibleError(f"{keyed} change records are signed with an audit key or record an erasure; "
                                "the code before core/0004 cannot verify them, so this migration is not reversed.")
    if schema_editor.connection.vendor == "postgresql":
        # Back to 0003's row trigger alone.
        schema_editor.execute(DROP)
        from importlib import import_module

        schema_editor.execute(import_module("cmdb.core.migrations.0003_changelog_append_only").TRIGGER)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_changelog_append_only'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='objectchange',
            options={'ordering': ('-time', '-id'), 'permissions': [('erase_objectchange', 'Can erase personal data from change records')]},
        ),
        migrations.AddField(
            model_name='objectchange',
            name='key_version',
            field=models.PositiveSmallIntegerField(default=0, help_text='Version of the audit key that signed this record (0: legacy, unkeyed SHA-256)'),
        ),
        migrations.AlterField(
            model_name='objectchange',
            name='action',
            field=models.CharField(choices=[('create', 'Created'), ('update', 'Updated'), ('delete', 'Deleted'), ('erase', 'Erased')], max_length=10),
        ),
        migrations.RunPython(forwards, backwards),
    ]

"""On PostgreSQL, make the change log append-only in the database itself.

UPDATE is allowed only for GDPR erasure (blanking the payload and setting
``erased``); the id, the hash-chain columns and everything they cover can
never change, and rows can never be deleted.
"""

from django.db import migrations

TRIGGER = """
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
       OR NEW.prev_hash IS DISTINCT FROM OLD.prev_hash OR NEW.chain_hash IS DISTINCT FROM OLD.chain_hash THEN
        RAISE EXCEPTION 'core_objectchange chain columns are immutable';
    END IF;
    IF NOT NEW.erased AND (NEW.prechange_data IS DISTINCT FROM OLD.prechange_data
       OR NEW.postchange_data IS DISTINCT FROM OLD.postchange_data
       OR NEW.user_name IS DISTINCT FROM OLD.user_name OR NEW.object_repr IS DISTINCT FROM OLD.object_repr) THEN
        RAISE EXCEPTION 'core_objectchange payload may only change by erasure';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS core_objectchange_append_only ON core_objectchange;
CREATE TRIGGER core_objectchange_append_only BEFORE UPDATE OR DELETE ON core_objectchange
    FOR EACH ROW EXECUTE FUNCTION core_objectchange_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS core_objectchange_append_only ON core_objectchange;
DROP FUNCTION IF EXISTS core_objectchange_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

from django.db import migrations

BUILTIN = [
    # slug, name, inverse, propagation (kept in step with cmdb.services.relationships.BUILTIN_TYPES)
    ("depends_on", "depends on", "required by", "to_source"),
    ("runs_on", "runs on", "runs", "to_source"),
    ("hosted_on", "hosted on", "hosts", "to_source"),
    ("connected_to", "connected to", "connects", "to_source"),
    ("backs_up", "backs up", "backed up by", "none"),
    ("licensed_by", "licensed by", "licenses", "none"),
    ("member_of", "member of", "has member", "none"),
]


def create(apps, schema_editor):
    RelationshipType = apps.get_model("services", "RelationshipType")
    GraphVersion = apps.get_model("services", "GraphVersion")
    for slug, name, inverse, propagation in BUILTIN:
        RelationshipType.objects.update_or_create(
            slug=slug, defaults={"name": name, "inverse_name": inverse, "propagation": propagation, "builtin": True}
        )
    GraphVersion.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("services", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

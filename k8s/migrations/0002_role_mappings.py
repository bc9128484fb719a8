"""Seed the contact role → ClusterRole mapping: owner → admin, technical → edit, every other role → view."""

from django.db import migrations

MAPPING = (("owner", "admin"), ("technical", "edit"), ("*", "view"))


def seed(apps, schema_editor):
    RoleMapping = apps.get_model("k8s", "RoleMapping")
    for contact_role, cluster_role in MAPPING:
        RoleMapping.objects.get_or_create(contact_role=contact_role, defaults={"cluster_role": cluster_role})


class Migration(migrations.Migration):
    dependencies = [("k8s", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

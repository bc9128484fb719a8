"""``Change.blast_radius``: from a JSON list to the bytes of a sorted integer array (``CIIdsField``).

Why: the collision check reads the radii of every change whose window overlaps; as JSON that was
~2 s of conversion and parsing for 10,000 changes (benchmarks/results/changes.md).  The ids are
copied in batches; backwards they are copied back into the JSON column.
"""

from django.db import migrations, models

import cmdb.changes.models

BATCH = 500


def _copy(apps, schema_editor, source: str, target: str) -> None:  # noqa: ANN001 - migration signature
    Change = apps.get_model("changes", "Change")
    batch = []
    for pk, radius in Change.objects.order_by("pk").values_list("pk", source).iterator(chunk_size=BATCH):
        batch.append(Change(pk=pk, **{target: list(radius or [])}))
        if len(batch) >= BATCH:
            Change.objects.bulk_update(batch, [target])
            batch = []
    if batch:
        Change.objects.bulk_update(batch, [target])


def forward(apps, schema_editor) -> None:  # noqa: ANN001
    _copy(apps, schema_editor, "blast_radius", "blast_radius_ids")


def backward(apps, schema_editor) -> None:  # noqa: ANN001
    _copy(apps, schema_editor, "blast_radius_ids", "blast_radius")


class Migration(migrations.Migration):

    dependencies = [
        ("changes", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="change",
            name="blast_radius_ids",
            field=cmdb.changes.models.CIIdsField(blank=True),
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="change", name="blast_radius"),
        migrations.RenameField(model_name="change", old_name="blast_radius_ids", new_name="blast_radius"),
    ]

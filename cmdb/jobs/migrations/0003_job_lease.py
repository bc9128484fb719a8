"""Heartbeat leases and retry attempts on jobs (issue 12, item 4).

Jobs that are running when this migration runs were started by workers without a
heartbeat: they get a lease of one hour from now, so a worker finishing its job during the
upgrade is left alone, and a job whose worker died long ago is reaped ("worker lost") an hour
after the upgrade instead of staying running forever.
"""

import datetime as dt

from django.db import migrations, models
from django.utils import timezone

LEGACY_GRACE = dt.timedelta(hours=1)


def lease_running_jobs(apps, schema_editor):  # noqa: ANN001, ARG001
    Job = apps.get_model("jobs", "Job")
    Job.objects.filter(status="running", lease_expires__isnull=True).update(lease_expires=timezone.now() + LEGACY_GRACE)


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0002_job_tenant"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="attempt",
            field=models.PositiveIntegerField(default=1, help_text="Which attempt this is (1, or more after a lost worker)"),
        ),
        migrations.AddField(
            model_name="job",
            name="max_attempts",
            field=models.PositiveIntegerField(default=1, help_text="Attempts allowed when workers are lost"),
        ),
        migrations.AddField(
            model_name="job",
            name="retry_delay",
            field=models.FloatField(default=0, help_text="Seconds a retried attempt waits in the queue"),
        ),
        migrations.AddField(
            model_name="job",
            name="heartbeat",
            field=models.DateTimeField(blank=True, help_text="When the worker running it was last heard of", null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="lease_expires",
            field=models.DateTimeField(blank=True, help_text="A running job not renewed by then has lost its worker",
                                       null=True),
        ),
        migrations.RunPython(lease_running_jobs, migrations.RunPython.noop),
    ]

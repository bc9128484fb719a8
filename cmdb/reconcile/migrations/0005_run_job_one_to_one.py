"""A run's status, timings and error are its job's: the run's own columns go, ``job`` becomes a required
one-to-one (0004 gave every run its job).  A run is deleted with its job (retention)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0004_job_status_skipped"),
        ("reconcile", "0004_runs_to_jobs"),
    ]

    operations = [
        migrations.RemoveField(model_name="reconcilerun", name="status"),
        migrations.RemoveField(model_name="reconcilerun", name="started"),
        migrations.RemoveField(model_name="reconcilerun", name="finished"),
        migrations.RemoveField(model_name="reconcilerun", name="duration"),
        migrations.RemoveField(model_name="reconcilerun", name="error"),
        migrations.AlterField(
            model_name="reconcilerun",
            name="job",
            field=models.OneToOneField(help_text="The job record: status, timings, worker and error of this run",
                                       on_delete=django.db.models.deletion.CASCADE, related_name="reconcile_run",
                                       to="jobs.job"),
        ),
    ]

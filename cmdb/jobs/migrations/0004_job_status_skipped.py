"""A job may end ``skipped`` (it chose not to do its work, e.g. a reconcile run whose lease was held)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0003_job_lease"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="status",
            field=models.CharField(choices=[("pending", "Pending"), ("running", "Running"),
                                            ("completed", "Completed"), ("failed", "Failed"),
                                            ("skipped", "Skipped")],
                                   db_index=True, default="pending", max_length=20),
        ),
    ]

"""Every reconcile run gets its job, which takes over the run's status, timings and error.

Runs queued through the API already had one; runs made in the foreground (``cmdb reconcile``) or by
older code did not.  For each run, oldest first:

* no job (or a job another run already took): a new ``reconcile.run`` job is recorded with the run's
  status, timings, error, user, schedule and tenant (and the run's creation time).  A run without a
  job that had not finished could never finish (nothing would ever run it): it is recorded failed;
* a job: the run's final status wins over the job's (the job of a run that failed on a target or was
  skipped said "completed"); a run still pending or running takes the job's (the reaper may have failed
  it as "worker lost").  The run's error wins when it has one; timings come from the job when it has them.

Written with the historical models and plain ORM calls, so it runs the same on PostgreSQL and SQLite.
The next migration drops the run's own columns and makes ``job`` a required one-to-one.
"""

from django.db import migrations

FINAL = ("completed", "failed", "skipped")
NEVER_RAN = ("The run was recorded without a job and had not finished when runs started to keep their status "
             "on their job (upgrade); nothing can run it any more.")


def runs_to_jobs(apps, schema_editor):  # noqa: ANN001, ARG001
    Run = apps.get_model("reconcile", "ReconcileRun")
    Job = apps.get_model("jobs", "Job")
    taken: set[int] = set()
    for run in Run.objects.order_by("pk").iterator(chunk_size=500):
        job = Job.objects.filter(pk=run.job_id).first() if run.job_id and run.job_id not in taken else None
        if job is None:
            final = run.status in FINAL
            job = Job.objects.create(
                name="reconcile.run", kwargs={"run_id": run.pk}, status=run.status if final else "failed",
                user_id=run.user_id, schedule_id=run.schedule_id, tenant_id=run.tenant_id,
                started=run.started, finished=run.finished if final else (run.finished or run.started),
                duration=run.duration, error=run.error if final else (run.error or NEVER_RAN))
            Job.objects.filter(pk=job.pk).update(created=run.created)
        else:
            if run.status in FINAL:
                job.status = run.status
            job.error = run.error or job.error
            job.started = job.started or run.started
            job.finished = job.finished or run.finished
            job.duration = job.duration if job.duration is not None else run.duration
            job.save(update_fields=["status", "error", "started", "finished", "duration"])
        taken.add(job.pk)
        if run.job_id != job.pk:
            Run.objects.filter(pk=run.pk).update(job_id=job.pk)


def jobs_to_runs(apps, schema_editor):  # noqa: ANN001, ARG001
    """Back: the run's columns from its job (the jobs stay)."""
    Run = apps.get_model("reconcile", "ReconcileRun")
    Job = apps.get_model("jobs", "Job")
    for run in Run.objects.exclude(job_id=None).order_by("pk").iterator(chunk_size=500):
        job = Job.objects.filter(pk=run.job_id).first()
        if job is None:
            continue
        status = job.status if job.status in ("pending", "running", *FINAL) else "failed"
        Run.objects.filter(pk=run.pk).update(status=status, started=job.started, finished=job.finished,
                                             duration=job.duration, error=job.error)


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0004_job_status_skipped"),
        ("reconcile", "0003_plans"),
    ]

    operations = [
        migrations.RunPython(runs_to_jobs, jobs_to_runs),
    ]

"""Jobs of the backup domain: the CMDB's own backup (``backup.self``), scheduled by default.

When the operator names a repository for it (``CMDB_SELF_BACKUP_REPOSITORY``, the name of a
:class:`~backup.models.Repository` in the CMDB), the schedule ``backup: the CMDB's own database`` exists
without anyone creating it: :func:`ensure_self_backup_schedule` runs after every ``cmdb migrate`` and
whenever that repository is saved (``backup/receivers.py``).  It is created once, with the cron of
``CMDB_SELF_BACKUP_CRON`` (default ``30 1 * * *``); afterwards it is the operator's to edit or disable --
only the repository name in its arguments follows the setting.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from cmdb.jobs.registry import JobContext, job

SCHEDULE_NAME = "backup: the CMDB's own database"
JOB_NAME = "backup.self"
DEFAULT_CRON = "30 1 * * *"
#: The self-backup's retention (restic forget of the ``cmdb-self`` snapshots), unless configured.
DEFAULT_RETENTION = {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12}


def self_backup_repository() -> str:
    return str(getattr(settings, "CMDB_SELF_BACKUP_REPOSITORY", "") or "")


def _validate(kwargs: dict[str, Any]) -> dict[str, str]:
    name = kwargs.get("repository")
    return {} if isinstance(name, str) and name else {"repository": "Name the repository (a backup repository's name)."}


@job(JOB_NAME, validate=_validate)
def self_backup(ctx: JobContext, *, repository: str) -> dict[str, Any]:
    """Dump the CMDB's database into ``repository`` (initialised on first use), apply the self-backup's
    retention and resync the repository's inventory.  A failure fails the job with restic's message."""
    from . import selfbackup

    outcome = selfbackup.scheduled_self_backup(repository, log=ctx.log)
    if not outcome.ok:
        raise RuntimeError(outcome.message)
    return {"snapshot_id": outcome.details.get("snapshot_id", ""), "bytes": outcome.details.get("bytes"),
            "duration": round(outcome.duration, 3)}


def ensure_self_backup_schedule() -> Any:
    """Create the self-backup schedule when a repository is configured and it does not exist yet (idempotent)."""
    from cmdb.jobs.models import Schedule

    name = self_backup_repository()
    if not name:
        return None
    schedule = Schedule.objects.filter(name=SCHEDULE_NAME).first()
    if schedule is None:
        schedule = Schedule(name=SCHEDULE_NAME, job_name=JOB_NAME, kwargs={"repository": name},
                            cron=str(getattr(settings, "CMDB_SELF_BACKUP_CRON", "") or DEFAULT_CRON),
                            description="Built in: pg_dump / SQLite backup of the CMDB into restic (docs/backup.md)")
        schedule.full_clean()
        schedule.save()
    elif schedule.kwargs.get("repository") != name:
        schedule.kwargs = {**schedule.kwargs, "repository": name}
        schedule.save(update_fields=["kwargs"])
    return schedule

"""Signal receivers of the backup domain: the built-in self-backup schedule follows the configuration, and the
audit checkpoint sink into the archive (:mod:`backup.checkpoints`) is registered with the core."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_migrate, post_save


def _after_migrate(sender: Any, **kwargs: Any) -> None:
    if getattr(sender, "label", "") != "backup":
        return
    from .jobs import ensure_self_backup_schedule

    ensure_self_backup_schedule()


def _repository_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    from .jobs import ensure_self_backup_schedule, self_backup_repository

    if instance.name == self_backup_repository():
        ensure_self_backup_schedule()


def connect() -> None:
    from cmdb.core.checkpoints import register_sink

    from .checkpoints import archive_sink
    from .models import Repository

    register_sink("backup-archive", archive_sink)
    post_migrate.connect(_after_migrate, dispatch_uid="backup.self_backup_schedule.migrate")
    post_save.connect(_repository_saved, sender=Repository, dispatch_uid="backup.self_backup_schedule.repository")

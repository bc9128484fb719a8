"""Change-log receivers: the only signals the CMDB uses for writes.

Every ``save()``/``delete()`` of a change-logged model lands here, whatever
path made it (API, admin, shell, management command).  Bulk services that
bypass ``save()`` call :func:`cmdb.core.changelog.note_many` themselves.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from cmdb.core import changelog
from cmdb.core.choices import ChangeAction
from cmdb.core.context import current
from cmdb.core.models import ChangeLoggedModel
from cmdb.core.models.base import CIModel
from cmdb.core.models.registry import ConfigurationItem


@receiver(pre_save)
def _snapshot_before(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw or not isinstance(instance, ChangeLoggedModel) or instance.pk is None:
        return
    if getattr(instance, "_prechange", None) is None:
        old = sender._default_manager.filter(pk=instance.pk).first()
        instance._prechange = old.snapshot() if old is not None else None


@receiver(post_save)
def _log_save(sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or not isinstance(instance, ChangeLoggedModel):
        return
    action = ChangeAction.CREATE if created else ChangeAction.UPDATE
    changelog.note(instance, action, None if created else getattr(instance, "_prechange", None))
    instance._prechange = None


@receiver(pre_delete)
def _snapshot_before_delete(sender: type, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, ChangeLoggedModel) and getattr(instance, "_prechange", None) is None:
        instance._prechange = instance.snapshot()


@receiver(post_delete)
def _log_delete(sender: type, instance: Any, **kwargs: Any) -> None:
    if not isinstance(instance, ChangeLoggedModel):
        return
    pre = getattr(instance, "_prechange", None) or instance.snapshot(tags=[])
    changelog.note(instance, ChangeAction.DELETE, pre)
    # Only a CI's own registry row goes with it (an installation or relationship merely points at a CI).
    # A batch delete (cmdb.core.deletion) deletes the registry rows with the batch, one statement for all.
    ci_id = getattr(instance, "ci_id", None) if isinstance(instance, CIModel) else None
    if ci_id is not None and not getattr(instance, "_registry_collected", False):
        ConfigurationItem.objects.filter(pk=ci_id).delete()


@receiver(m2m_changed)
def _log_tags(sender: type, instance: Any, action: str, **kwargs: Any) -> None:
    if not isinstance(instance, ChangeLoggedModel):
        return
    if action in {"pre_add", "pre_remove", "pre_clear"}:
        # The state before the change, unless the context already holds an earlier one for this object.
        ctx = current()
        if ctx is None or (instance._meta.label_lower, instance.pk) not in ctx.pending:
            instance._prechange_tags_snapshot = instance.snapshot()
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    changelog.note(instance, ChangeAction.UPDATE, getattr(instance, "_prechange_tags_snapshot", None))
    instance._prechange_tags_snapshot = None


@receiver(connection_created)
def _sqlite_parameter_limit(sender: type, connection: Any, **kwargs: Any) -> None:
    """Give Django the SQLite library's real limit of parameters per statement.

    Django 5.2 assumes SQLite's old compile-time default of 999, so a batch of change records
    (about 20 columns each) was split into one INSERT per 49 rows, and a bulk write's statement
    count grew with its size on SQLite while it stayed constant on PostgreSQL.  SQLite 3.32 and
    later allow 32,766 (Debian's build 250,000), which the library reports; Django 6.0 reads it
    the same way.
    """
    if connection.vendor == "sqlite":
        import sqlite3

        connection.features.max_query_params = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

"""Hook and signal receivers of the backup domain: what other domains may ask about backups, the built-in
self-backup schedule that follows the configuration (:mod:`backup.jobs`), and the audit checkpoint sink into
the archive (:mod:`backup.checkpoints`) registered with the core.

Connected by :class:`backup.apps.BackupConfig` (``receivers_module``); the hooks are declared in
:mod:`cmdb.core.hooks`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Max
from django.db.models.signals import post_migrate, post_save

from cmdb.core import hooks

#: The restore-test age accepted for a CI no policy covers (a policy's own ``restore_test_max_age_days``
#: decides otherwise); the model's default.
DEFAULT_MAX_AGE_DAYS = 30


def verified_backups(ci_ids: list[int], at: dt.datetime) -> dict[int, dict[str, Any]]:
    """Per CI: is its backup *verified* -- a restore test of it passed recently enough?

    "Recently enough" is the smallest ``restore_test_max_age_days`` of the CI's effective policies
    (attached or inherited, :mod:`backup.coverage`), else 30 days.  A snapshot alone is not a verified
    backup: only a restore test proves it can be read back.  A constant number of queries.
    """
    from .coverage import effective_policies
    from .models import Policy, PolicyAttachment, RestoreTest, Snapshot

    ids = sorted({int(c) for c in ci_ids})
    if not ids:
        return {}
    tests = dict(RestoreTest.objects.filter(ci_id__in=ids, passed=True, tested_at__lte=at)
                 .values("ci_id").annotate(t=Max("tested_at")).values_list("ci_id", "t"))
    snaps = dict(Snapshot.objects.filter(ci_id__in=ids, time__lte=at)
                 .values("ci_id").annotate(t=Max("time")).values_list("ci_id", "t"))
    # The policies decide the accepted age only for CIs that have a passed test at all; the inheritance
    # walk reads every inheritance edge, so it is skipped when no CI asked about has one.
    effective = effective_policies(list(tests)) if tests and PolicyAttachment.objects.exists() else {}
    max_age = dict(Policy.objects.filter(pk__in={p for e in effective.values() for p in e.policy_ids})
                   .values_list("pk", "restore_test_max_age_days")) if effective else {}
    out: dict[int, dict[str, Any]] = {}
    for ci in ids:
        eff = effective.get(ci)
        days = min((max_age[p] for p in eff.policy_ids if p in max_age), default=DEFAULT_MAX_AGE_DAYS) \
            if eff else DEFAULT_MAX_AGE_DAYS
        test, snap = tests.get(ci), snaps.get(ci)
        if test is None:
            verified, why = False, "no passed restore test"
        elif at - test > dt.timedelta(days=days):
            verified, why = False, f"last passed restore test {test:%Y-%m-%d} is older than {days} days"
        else:
            verified, why = True, f"restore test passed {test:%Y-%m-%d} (within {days} days)"
        if eff is None and test is not None:
            why += "; no backup policy covers it"
        out[ci] = {"verified": verified, "why": why, "last_snapshot": snap.isoformat() if snap else None,
                   "last_restore_test": test.isoformat() if test else None}
    return out


def _answer_verified(sender: Any, *, ci_ids: list[int], at: dt.datetime, **kwargs: Any) -> dict[int, dict[str, Any]]:
    return verified_backups(ci_ids, at)


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

    hooks.backup_verified_for.connect(_answer_verified, dispatch_uid="backup.verified_for")
    register_sink("backup-archive", archive_sink)
    post_migrate.connect(_after_migrate, dispatch_uid="backup.self_backup_schedule.migrate")
    post_save.connect(_repository_saved, sender=Repository, dispatch_uid="backup.self_backup_schedule.repository")

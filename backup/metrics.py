"""The backup domain's families for ``/metrics`` (a constant number of queries, tenant-scoped).

Per CI: newest snapshot time, snapshot count and bytes, RPO breach (from the coverage report),
newest restore test (time and result); per repository: the last check's result and the archive
copy lag (newest snapshot in a policy's backup repository minus the newest in its archive); the newest
successful self-backup of the CMDB's own database (``CMDBBackupTooOld``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Max, Sum
from prometheus_client.core import GaugeMetricFamily, Metric

from cmdb.core.models import ConfigurationItem
from cmdb.users.permissions import restrict

from . import coverage as cov
from .models import Policy, RestoreTest, Run, RunStatus, Snapshot


def collect(user: Any = None) -> Iterable[Metric]:
    snapshots = Snapshot.objects.exclude(ci_id=None)
    tests = RestoreTest.objects.exclude(ci_id=None)
    runs = Run.objects.filter(operation="check")
    cis = ConfigurationItem.objects.all()
    if user is not None:
        snapshots, tests, runs, cis = (restrict(snapshots, user), restrict(tests, user), restrict(runs, user),
                                       restrict(cis, user))
    last = GaugeMetricFamily("cmdb_backup_last_success_timestamp_seconds",
                             "Time of the newest snapshot of the CI in any repository.", labels=["ci_id"])
    count = GaugeMetricFamily("cmdb_backup_snapshots", "Snapshots of the CI in the inventory, per repository.",
                              labels=["ci_id", "repository"])
    size = GaugeMetricFamily("cmdb_backup_snapshot_bytes", "Bytes of the CI's snapshots, summed, per repository.",
                             labels=["ci_id", "repository"])
    newest: dict[int, Any] = {}
    for ci_id, repository, t, n, total in snapshots.order_by().values("ci_id", "repository__name").annotate(
            t=Max("time"), n=Count("id"), b=Sum("size")).values_list("ci_id", "repository__name", "t", "n", "b"):
        count.add_metric([str(ci_id), repository], n)
        size.add_metric([str(ci_id), repository], total or 0)
        newest[ci_id] = max(t, newest.get(ci_id, t))
    for ci_id, t in sorted(newest.items()):
        last.add_metric([str(ci_id)], t.timestamp())
    yield from (last, count, size)

    tested = GaugeMetricFamily("cmdb_backup_restore_test_timestamp_seconds", "Time of the CI's newest restore test.",
                               labels=["ci_id"])
    passed = GaugeMetricFamily("cmdb_backup_restore_test_passed", "1 if the CI's newest restore test passed.",
                               labels=["ci_id"])
    newest_test: dict[int, tuple[Any, bool]] = {}
    for ci_id, at, ok in tests.order_by("ci_id", "-tested_at", "-id").distinct("ci_id").values_list(
            "ci_id", "tested_at", "passed") if _distinct_on() else _latest_tests(tests):
        newest_test[ci_id] = (at, ok)
    for ci_id, (at, ok) in sorted(newest_test.items()):
        tested.add_metric([str(ci_id)], at.timestamp())
        passed.add_metric([str(ci_id)], 1 if ok else 0)
    yield from (tested, passed)

    breach = GaugeMetricFamily("cmdb_backup_rpo_breached", "1 for a CI whose newest backup is older than its RPO.",
                               labels=["ci_id"])
    missing = GaugeMetricFamily("cmdb_backup_unprotected", "1 for a CI that requires a backup and has no policy.",
                                labels=["ci_id"])
    for row in cov.coverage(cis):
        if row.problem == "rpo_breached":
            breach.add_metric([str(row.ci_id)], 1)
        elif row.problem == "no_policy":
            missing.add_metric([str(row.ci_id)], 1)
    yield from (breach, missing)

    check = GaugeMetricFamily("cmdb_backup_check_success", "1 if the repository's last restic check passed.",
                              labels=["repository"])
    seen: set[str] = set()
    for name, status in runs.order_by("-started", "-id").values_list("repository__name", "status")[:1000]:
        if name and name not in seen:
            seen.add(name)
            check.add_metric([name], 1 if status == RunStatus.SUCCESS else 0)
    yield check

    lag = GaugeMetricFamily("cmdb_backup_archive_lag_seconds",
                            "Newest snapshot of a policy in its backup repository minus the newest in its archive.",
                            labels=["policy"])
    by_policy = dict(((r, p), t) for r, p, t in Snapshot.objects.exclude(policy_id=None).order_by().values(
        "repository_id", "policy_id").annotate(t=Max("time")).values_list("repository_id", "policy_id", "t"))
    for pk, name, repo, archive in Policy.objects.exclude(archive_repository=None).values_list(
            "pk", "name", "repository_id", "archive_repository_id"):
        primary, copied = by_policy.get((repo, pk)), by_policy.get((archive, pk))
        if primary is not None:
            lag.add_metric([name], (primary - copied).total_seconds() if copied else primary.timestamp())
    yield lag

    own = GaugeMetricFamily("cmdb_backup_self_last_success_timestamp_seconds",
                            "Start of the newest successful backup of the CMDB's own database, per repository.",
                            labels=["repository"])
    if user is None or getattr(user, "is_superuser", False):  # the CMDB itself is no tenant's
        for name, started in Run.objects.filter(operation="self-backup", status=RunStatus.SUCCESS).order_by(
                ).values("repository__name").annotate(t=Max("started")).values_list("repository__name", "t"):
            if name:
                own.add_metric([name], started.timestamp())
    yield own


def _distinct_on() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def _latest_tests(tests: Any) -> list[tuple[int, Any, bool]]:
    newest: dict[int, tuple[int, Any, bool]] = {}
    for ci_id, at, ok in tests.order_by("ci_id", "tested_at", "id").values_list("ci_id", "tested_at", "passed"):
        newest[ci_id] = (ci_id, at, ok)
    return list(newest.values())

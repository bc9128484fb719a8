"""Running reconcilers: leases, stored plans, per-action results and per-CI drift.

:func:`run_request` records a pending run and enqueues the ``reconcile.run``
job; :func:`run_execute` (in the worker) takes the (reconciler, scope) lease,
drives the reconciler through desired → observe → plan → [apply → verify] and
stores everything.  A second run for the same scope while the lease is held
ends as ``skipped``; a worker that dies stops renewing, so its lease expires.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cmdb.core.context import change_logging
from cmdb.jobs.leases import lease_acquire, lease_release

from .base import DiffItem, Reconciler, Target, TargetOutcome, get_reconciler
from .models import ActionResult, CIDrift, DriftStatus, ReconcileAction, ReconcileRun, RunStatus

logger = logging.getLogger(__name__)
Log = Callable[..., None]  # log(message, level="info")


class _DryRunRollback(Exception):
    pass


def lease_name(reconciler: str, scope: str) -> str:
    return f"reconcile:{reconciler}:{scope}"


def run_request(*, reconciler: str, scope: str = "all", dry_run: bool = True, user: Any = None) -> ReconcileRun:
    """Record a pending run and queue it; the worker picks it up."""
    from cmdb.jobs.registry import job_enqueue
    from cmdb.users.permissions import sole_tenant

    get_reconciler(reconciler)  # unknown names fail here, not in the worker
    starter = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        run = ReconcileRun.objects.create(reconciler=reconciler, scope=scope, dry_run=dry_run, user=starter,
                                          tenant_id=sole_tenant(starter))
        job = job_enqueue("reconcile.run", kwargs={"run_id": run.pk}, user=user)
        ReconcileRun.objects.filter(pk=run.pk).update(job=job)
        run.job = job
    return run


@contextlib.contextmanager
def _held(name: str, holder: str, ttl: float) -> Iterator[bool]:
    """Hold the lease and renew it every ttl/3 seconds from a background thread."""
    if not lease_acquire(name, holder, ttl=ttl):
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(ttl / 3):
                lease_acquire(name, holder, ttl=ttl)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join()
        lease_release(name, holder)


def run_execute(run: ReconcileRun, *, log: Log | None = None) -> ReconcileRun:
    """Drive one run to the end; never raises for a reconciler's failure (it is recorded)."""
    log = log or (lambda message, level="info": logger.log(logging.ERROR if level == "error" else logging.INFO,
                                                           "%s", message))
    reconciler = get_reconciler(run.reconciler)
    reconciler.bind(log=log, user=run.user, run_id=run.pk, dry_run=run.dry_run)
    started = timezone.now()
    ReconcileRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started=started)
    with _held(lease_name(run.reconciler, run.scope), f"run-{run.pk}", reconciler.lease_ttl) as held:
        if not held:
            log(f"another run holds {lease_name(run.reconciler, run.scope)}; skipped")
            _finish(run, started, status=RunStatus.SKIPPED, error="Another run of this reconciler and scope is active.")
            return _reload(run)
        try:
            _drive(run, reconciler, log)
        except Exception:
            log("run failed")
            _finish(run, started, status=RunStatus.FAILED, error=traceback.format_exc())
            return _reload(run)
    _finish(run, started)
    return _reload(run)


def _reload(run: ReconcileRun) -> ReconcileRun:
    return ReconcileRun.objects.get(pk=run.pk)


def _finish(run: ReconcileRun, started: dt.datetime, *, status: str | None = None, error: str = "") -> None:
    finished = timezone.now()
    fields: dict[str, Any] = {"finished": finished, "duration": (finished - started) / dt.timedelta(seconds=1)}
    if status is not None:
        fields.update(status=status, error=error)
    ReconcileRun.objects.filter(pk=run.pk).update(**fields)


def _permitted(run: ReconcileRun, desired: list[Target], log: Log) -> list[Target]:
    """The targets the run's user may see (dry run) or change (apply); a schedule's run keeps all.

    A scope is text ("all", "ci:12", "tenant:physics"): whatever it names, a user's run
    plans and applies only what that user could plan and change by hand, judged on the typed
    object (the device, the VM) through the permission gate.  Targets that are not CIs
    are for superusers only.
    """
    from django.apps import apps

    from cmdb.core.models import ConfigurationItem
    from cmdb.users.permissions import grants_for, restrict

    user = run.user
    if user is None or grants_for(user).superuser:
        return desired
    action = "view" if run.dry_run else "change"
    ids = {t.ci_id for t in desired if t.ci_id is not None}
    allowed: set[int] = set()
    kinds = ConfigurationItem.objects.filter(pk__in=ids).values_list("kind", flat=True).distinct()
    for kind in kinds:
        try:
            model = apps.get_model(kind)
        except (LookupError, ValueError):
            continue
        allowed.update(restrict(model._default_manager.filter(ci_id__in=ids), user, action)
                       .values_list("ci_id", flat=True))
    kept = [t for t in desired if t.ci_id in allowed]
    if len(kept) != len(desired):
        log(f"{len(desired) - len(kept)} targets in scope {run.scope} left out: {user} may not {action} them")
    return kept


def _drive(run: ReconcileRun, reconciler: Reconciler, log: Log) -> None:
    desired = _permitted(run, reconciler.desired(run.scope), log)
    log(f"{len(desired)} targets in scope {run.scope}")
    observed = reconciler.observe(desired)
    try:
        with change_logging(user=run.user, source=f"reconcile:{run.reconciler}"):
            reconciler.writeback(desired, observed)
            if run.dry_run:
                # A dry run changes nothing, not even the CMDB: leaving the block by an exception
                # rolls back the writes and drops their buffered change records.
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    items = reconciler.plan(desired, observed)
    broken = {o.target: o for o in reconciler.unhealthy(observed)}
    _store_plan(run, items)
    log(f"plan: {len(items)} changes, {len(broken)} targets failed or unreachable")
    outcomes: dict[str, TargetOutcome] = dict(broken)
    remaining: list[DiffItem] | None = None
    if not run.dry_run and items:
        for outcome in reconciler.apply(desired, items):
            if outcome.target not in broken or outcome.status != "ok":
                outcomes[outcome.target] = outcome
        _store_results(run, outcomes)
        remaining = reconciler.verify(desired)
        log(f"verify: {len(remaining)} changes still needed")
    elif not run.dry_run:
        remaining = []
    failed = sum(1 for o in outcomes.values() if o.status != "ok")
    drift_items = remaining if remaining is not None else items
    _record_drift(run, desired, drift_items, outcomes)
    ReconcileRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED if failed else RunStatus.COMPLETED,
        targets=len(desired), drift_count=len(items), failed_count=failed,
        applied_count=sum(o.changed for o in outcomes.values() if o.status == "ok") if not run.dry_run else 0,
        remaining_drift=None if remaining is None else len(remaining),
        summary={t.name: _target_summary(t, items, outcomes) for t in desired},
    )


def _target_summary(target: Target, items: list[DiffItem], outcomes: dict[str, TargetOutcome]) -> dict[str, Any]:
    outcome = outcomes.get(target.name)
    return {"changes": sum(1 for i in items if i.target == target.name),
            "status": outcome.status if outcome else "ok", "message": outcome.message if outcome else ""}


def _store_plan(run: ReconcileRun, items: list[DiffItem]) -> None:
    ReconcileAction.objects.bulk_create(
        ReconcileAction(run=run, index=i, ci_id=item.ci_id, target=item.target[:200], operation=item.operation,
                        resource=item.resource[:300], diff=item.diff, data=item.data)
        for i, item in enumerate(items)
    )


def _store_results(run: ReconcileRun, outcomes: dict[str, TargetOutcome]) -> None:
    actions = list(ReconcileAction.objects.filter(run=run))
    for action in actions:
        outcome = outcomes.get(action.target)
        if outcome is None:
            action.result = ActionResult.SKIPPED
        else:
            action.result = {"ok": ActionResult.OK, "unreachable": ActionResult.UNREACHABLE}.get(
                outcome.status, ActionResult.FAILED)
            action.message = outcome.message
    ReconcileAction.objects.bulk_update(actions, ["result", "message"])


def _record_drift(run: ReconcileRun, desired: list[Target], items: list[DiffItem],
                  outcomes: dict[str, TargetOutcome]) -> None:
    """Upsert the per-CI drift verdict of every CI in scope (one read, bulk writes)."""
    by_target: dict[str, list[DiffItem]] = defaultdict(list)
    for item in items:
        by_target[item.target].append(item)
    now = timezone.now()
    cis = {t.ci_id: t for t in desired if t.ci_id is not None}
    existing = {d.ci_id: d for d in CIDrift.objects.filter(reconciler=run.reconciler, ci_id__in=list(cis))}
    create, update = [], []
    for ci_id, target in cis.items():
        outcome = outcomes.get(target.name)
        found = by_target.get(target.name, [])
        if outcome is not None and outcome.status != "ok":
            status = DriftStatus.UNREACHABLE if outcome.status == "unreachable" else DriftStatus.FAILED
        else:
            status = DriftStatus.DRIFTED if found else DriftStatus.IN_SYNC
        record = existing.get(ci_id) or CIDrift(reconciler=run.reconciler, ci_id=ci_id)
        was_drifted = record.pk is not None and record.status == DriftStatus.DRIFTED and record.drifted_since
        record.run_id = run.pk
        record.status = status
        record.drift_items = len(found)
        record.items = [{"operation": i.operation, "resource": i.resource, "diff": i.diff} for i in found]
        record.message = outcome.message if outcome is not None else ""
        record.checked = now
        record.drifted_since = (record.drifted_since if was_drifted else now) if status == DriftStatus.DRIFTED else None
        (update if record.pk else create).append(record)
    CIDrift.objects.bulk_create(create)
    CIDrift.objects.bulk_update(update, ["run", "status", "drift_items", "items", "message", "checked",
                                         "drifted_since"])

"""Running reconcilers: validation on store, leases, stored plans, per-item outcomes and per-CI drift.

:func:`run_request` validates a run (reconciler, scope for the requester, options), records it as
pending and enqueues the ``reconcile.run`` job; :func:`apply_request` does the same for applying a
stored plan.  Every run is recorded with its ``reconcile.run`` job (:class:`~.models.ReconcileRun`),
the one holder of its status, timings, worker and error.  The job function calls :func:`run_drive`
(in a worker; or in this process through :func:`run_execute`, for ``cmdb reconcile`` and tests),
which takes the (reconciler, scope) lease and drives the reconciler:

* a **dry run** resolves the scope, observes, stores a :class:`~.models.Plan` and stops;
* **plan and apply now** (``dry_run=False``) stores the plan, then applies its items and verifies;
* **apply a stored plan** plans afresh first: if the fresh fingerprint differs from the stored
  one the apply is refused with the difference ("re-plan"); otherwise exactly the stored items
  are applied and each gets its outcome.

Before every apply :data:`cmdb.core.hooks.reconcile_apply_requested` is sent (a deny refuses it).
A second run for the same scope while the lease is held ends as ``skipped``; a worker that dies
stops renewing, so its lease expires (:func:`cmdb.jobs.leases.leased`), and the reaper fails its
job, which is the run's status too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from cmdb.core import hooks
from cmdb.core.context import atomic, rolled_back
from cmdb.jobs.leases import leased

from .base import DiffItem, ItemOutcome, Reconciler, Target, TargetOutcome, get_reconciler, options_errors, reconcilers
from .models import ActionResult, CIDrift, DriftStatus, Plan, PlanItem, ReconcileRun
from .scope import Selection, resolve_scope, scope_errors

logger = logging.getLogger(__name__)
Log = Callable[..., None]  # log(message, level="info")


class RunRefused(ValueError):
    """A run that may not be stored: ``errors`` maps the field (reconciler, scope, options, plan) to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
        self.errors = errors


def lease_name(reconciler: str, scope: str) -> str:
    return f"reconcile:{reconciler}:{scope}"


def _default_log(message: str, level: str = "info") -> None:
    logger.log(logging.ERROR if level == "error" else logging.INFO, "%s", message)


# --- validation on store --------------------------------------------------------------------------------------


def run_errors(*, reconciler: Any, scope: Any = "all", options: Any = None, dry_run: bool = True,
               user: Any = None) -> dict[str, str]:
    """``{field: message}`` for a run or schedule that may not be stored (empty: acceptable).

    The scope must parse, name only kinds the reconciler manages and match at least one CI that
    ``user`` may view (dry run) or change (apply); ``user`` None (a schedule) sees everything."""
    known = reconcilers()
    if not isinstance(reconciler, str) or reconciler not in known:
        return {"reconciler": f"Unknown reconciler; known: {', '.join(sorted(known))}."}
    cls = known[reconciler]
    errors: dict[str, str] = {}
    problems = options_errors(cls, options)
    if problems:
        errors["options"] = "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
    if not isinstance(scope, str) or not scope.strip():
        errors["scope"] = "Give a scope such as all, ci:12, site:zittau tag:web."
    else:
        starter = user if getattr(user, "is_authenticated", False) else None
        problem = scope_errors(scope, cls.kinds, user=starter, action="view" if dry_run else "change")
        if problem:
            errors["scope"] = problem
    return errors


def run_request(*, reconciler: str, scope: str = "all", dry_run: bool = True, options: dict[str, Any] | None = None,
                user: Any = None, enqueue: bool = True) -> ReconcileRun:
    """Validate, record a pending run and (``enqueue``) queue it; :class:`RunRefused` when invalid."""
    errors = run_errors(reconciler=reconciler, scope=scope, options=options, dry_run=dry_run, user=user)
    if errors:
        raise RunRefused(errors)
    return _record(reconciler=reconciler, scope=scope.strip(), dry_run=dry_run, options=options or {}, user=user,
                   enqueue=enqueue)


def apply_request(plan: Plan, *, user: Any = None, enqueue: bool = True) -> ReconcileRun:
    """Record (and queue) a run that applies the stored ``plan``; its scope must still reach a CI
    ``user`` may change."""
    errors = run_errors(reconciler=plan.reconciler, scope=plan.scope, options=plan.options, dry_run=False, user=user)
    if errors:
        raise RunRefused(errors)
    return _record(reconciler=plan.reconciler, scope=plan.scope, dry_run=False, options=plan.options, user=user,
                   plan=plan, enqueue=enqueue)


def _record(*, reconciler: str, scope: str, dry_run: bool, options: dict[str, Any], user: Any,
            plan: Plan | None = None, enqueue: bool = True) -> ReconcileRun:
    """The run and its pending job (the run's ``save`` records it); ``enqueue`` hands the job to the queue
    once the transaction commits, else the caller runs it here (:func:`run_execute`)."""
    from cmdb.jobs.registry import job_dispatch

    starter = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        run = ReconcileRun.objects.create(reconciler=reconciler, scope=scope, dry_run=dry_run, options=options,
                                          user=starter, plan=plan, applies_plan=plan is not None)
        if enqueue:
            job_id = run.job_id
            transaction.on_commit(lambda: job_dispatch(job_id))
    return run


# --- fingerprints and the difference between plans ------------------------------------------------------------


def fingerprint(desired: list[Target], items: list[DiffItem], broken: list[TargetOutcome]) -> str:
    """SHA-256 of the desired state (targets and their data) and the observation (items, failing targets)."""
    body = {
        "targets": [[t.name, t.ci_id, t.data] for t in desired],
        "items": [i.as_dict() for i in items],
        "broken": sorted([o.target, o.status] for o in broken),
    }
    text = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _key(item: DiffItem) -> tuple[str, str, str, str]:
    return (item.operation, item.target, item.resource, item.diff)


def plan_difference(stored: list[DiffItem], fresh: list[DiffItem]) -> str:
    """What changed between a stored plan and a fresh one, one line per item (``-`` gone, ``+`` new)."""
    old, new = [_key(i) for i in stored], [_key(i) for i in fresh]
    lines = [f"- {key[0]} [{key[1]}] {key[2]}" for key in old if key not in new]
    lines += [f"+ {key[0]} [{key[1]}] {key[2]}" for key in new if key not in old]
    return "\n".join(lines) or "(the same items; the desired state or the set of failing targets changed)"


# --- executing a run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunEnd:
    """How :func:`run_drive` ended: ``completed``, ``failed`` or ``skipped``, and why (the job's error)."""

    status: str
    error: str = ""


def run_execute(run: ReconcileRun, *, log: Log | None = None, progress: Callable[[str], None] | None = None
                ) -> ReconcileRun:
    """Run a pending run to the end in this process (``cmdb reconcile`` in the foreground, tests).

    It goes through its job exactly as a worker would (:func:`cmdb.jobs.registry.job_run`): the job
    is claimed and leased, and records status, timings, worker, log and error, so a foreground run
    has the same record as a queued one.  ``log(message, level)`` echoes the log lines,
    ``progress(step)`` is called as the run moves on (the CLI draws its progress bar from it).
    A run whose job is no longer pending (a worker took it) is left alone."""
    from cmdb.jobs.models import Job
    from cmdb.jobs.registry import job_run

    attempt = Job.objects.filter(pk=run.job_id).values_list("attempt", flat=True).first()
    job_run(run.job_id, attempt=attempt, worker=f"foreground:{socket.gethostname()}:{os.getpid()}",
            echo=log, progress=progress)
    return _reload(run)


def run_drive(run: ReconcileRun, *, log: Log | None = None, progress: Callable[[str], None] | None = None
              ) -> RunEnd:
    """Drive one run to the end (the ``reconcile.run`` job calls this); never raises for a reconciler's
    failure: the end says it, and the job records it as its status and error."""
    log = log or _default_log
    reconciler = get_reconciler(run.reconciler)
    reconciler.bind(log=log, user=run.user, run_id=run.pk, dry_run=run.dry_run, options=run.options)
    name = lease_name(run.reconciler, run.scope)
    with leased(name, f"run-{run.pk}", ttl=reconciler.lease_ttl) as held:
        if not held:
            log(f"another run holds {name}; skipped")
            return RunEnd("skipped", "Another run of this reconciler and scope is active.")
        try:
            return _drive(run, reconciler, log, progress or (lambda step: None))
        except Exception as exc:
            log(f"run failed: {type(exc).__name__}: {exc}", level="error")
            return RunEnd("failed", traceback.format_exc())


def _reload(run: ReconcileRun) -> ReconcileRun:
    return ReconcileRun.objects.select_related("job").get(pk=run.pk)


def _select(run: ReconcileRun, reconciler: Reconciler, log: Log) -> Selection:
    """The run's scope resolved for its user: a dry run reaches what they may view, an apply what they may change."""
    action = "view" if run.dry_run else "change"
    selection = resolve_scope(run.scope, reconciler.kinds, user=run.user, action=action)
    if run.user is not None:
        everything = len(resolve_scope(run.scope, reconciler.kinds))
        if everything > len(selection):
            log(f"{everything - len(selection)} targets in scope {run.scope} left out: "
                f"{run.user} may not {action} them")
    return selection


def _permitted(run: ReconcileRun, selection: Selection, desired: list[Target]) -> list[Target]:
    """Only targets of the selection: a reconciler that ignores its selection still cannot reach past the
    run's user.  Targets that are not CIs are for runs without a limited user (schedules, superusers)."""
    from cmdb.users.permissions import grants_for

    if run.user is None or grants_for(run.user).superuser:
        return desired
    allowed = set(selection.ci_ids)
    return [t for t in desired if t.ci_id in allowed]


def _writeback(run: ReconcileRun, reconciler: Reconciler, desired: list[Target], observed: Any) -> None:
    """``writeback`` in a savepoint: a dry run always rolls it back (with the change records it noted),
    whether or not the run itself sits inside an outer ``change_logging`` block."""
    block = rolled_back() if run.dry_run else atomic()
    rolled = run.dry_run
    try:
        with block:
            reconciler.writeback(desired, observed)
    except BaseException:
        rolled = True
        raise
    finally:
        if rolled:  # caches that kept ids of rows read inside the block forget them
            hooks.writes_rolled_back.send(sender=ReconcileRun)


@dataclass
class _Applied:
    item_outcomes: dict[int, ItemOutcome]
    target_outcomes: dict[str, TargetOutcome]


def _drive(run: ReconcileRun, reconciler: Reconciler, log: Log, progress: Callable[[str], None]) -> RunEnd:
    progress("desired")
    selection = _select(run, reconciler, log)
    desired = _permitted(run, selection, reconciler.desired(selection))
    log(f"{len(desired)} targets in scope {run.scope}")
    progress("observe")
    observed = reconciler.observe(desired)
    progress("writeback")
    _writeback(run, reconciler, desired, observed)
    progress("plan")
    items = reconciler.plan(desired, observed)
    broken = {o.target: o for o in reconciler.unhealthy(observed)}
    fresh_fp = fingerprint(desired, items, list(broken.values()))
    if run.applies_plan and run.plan is not None:
        plan = run.plan
        stored = [_diff_item(i) for i in plan.items.order_by("index")]
        if plan.fingerprint != fresh_fp:
            difference = plan_difference(stored, items)
            log(f"plan {plan.pk} is stale; re-plan", level="error")
            ReconcileRun.objects.filter(pk=run.pk).update(targets=len(desired), drift_count=len(stored))
            return RunEnd("failed", f"Plan {plan.pk} no longer matches the real system and the CMDB: "
                                    f"re-plan.\n{difference}")
        items = stored
    else:
        plan = _store_plan(run, reconciler, items, fresh_fp, len(desired))
    log(f"plan {plan.pk}: {len(items)} changes, {len(broken)} targets failed or unreachable")
    applied: _Applied | None = None
    remaining: list[DiffItem] | None = None
    if not run.dry_run and items:
        reasons = _gate(run, plan, items)
        if reasons is not None:
            text = "; ".join(reasons) or "denied"
            log(f"apply denied: {text}", level="error")
            PlanItem.objects.filter(plan=plan).update(outcome=ActionResult.SKIPPED, message=f"apply denied: {text}")
            ReconcileRun.objects.filter(pk=run.pk).update(targets=len(desired), drift_count=len(items))
            return RunEnd("failed", f"Apply denied: {text}")
        progress("apply")
        applied = _spread(items, reconciler.apply(desired, items))
        _store_outcomes(plan, applied)
        progress("verify")
        remaining = reconciler.verify(desired)
        log(f"verify: {len(remaining)} changes still needed")
    elif not run.dry_run:
        remaining = []
    targets = _target_outcomes(desired, items, broken, applied)
    failed = sum(1 for o in targets.values() if o.status != "ok")
    _record_drift(run, desired, remaining if remaining is not None else items, targets)
    ok_items = sum(1 for o in applied.item_outcomes.values() if o.status == "ok") if applied else 0
    ReconcileRun.objects.filter(pk=run.pk).update(
        plan=plan, targets=len(desired), drift_count=len(items), failed_count=failed, applied_count=ok_items,
        remaining_drift=None if remaining is None else len(remaining),
        summary={t.name: _target_summary(t, items, targets) for t in desired},
    )
    progress("done")
    if failed:
        names = sorted(name for name, o in targets.items() if o.status != "ok")
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return RunEnd("failed", f"{failed} of {len(desired)} targets failed or were unreachable: {shown}.")
    return RunEnd("completed")


def _diff_item(row: PlanItem) -> DiffItem:
    return DiffItem(row.operation, row.target, row.resource, diff=row.diff, ci_id=row.ci_id, data=row.data)


def _gate(run: ReconcileRun, plan: Plan, items: list[DiffItem]) -> list[str] | None:
    """None when the apply may go ahead; else the reasons of the receivers of the gate hook that denied it."""
    denied, reasons = False, []
    for _receiver, answer in hooks.reconcile_apply_requested.send(
            sender=ReconcileRun, reconciler=run.reconciler, plan=plan, items=items, user=run.user, run=run):
        if not answer:
            continue
        if not answer.get("allow", True):
            denied = True
            reasons += [str(r) for r in answer.get("reasons") or []]
    return reasons if denied else None


def _spread(items: list[DiffItem], results: list[ItemOutcome | TargetOutcome]) -> _Applied:
    """Item outcomes as given; a target outcome covers that target's items without one; the rest were skipped."""
    by_item: dict[int, ItemOutcome] = {}
    by_target: dict[str, TargetOutcome] = {}
    for result in results:
        if isinstance(result, ItemOutcome):
            if 0 <= result.item < len(items):
                by_item[result.item] = result
        else:
            by_target[result.target] = result
    for index, item in enumerate(items):
        if index in by_item:
            continue
        outcome = by_target.get(item.target)
        if outcome is None:
            by_item[index] = ItemOutcome(index, "skipped", "not applied")
        else:
            status = "ok" if outcome.status == "ok" else "failed"
            by_item[index] = ItemOutcome(index, status, outcome.message or (
                "" if outcome.status in ("ok", "failed") else outcome.status))
    return _Applied(by_item, by_target)


def _store_outcomes(plan: Plan, applied: _Applied) -> None:
    rows = list(PlanItem.objects.filter(plan=plan).order_by("index"))
    for row in rows:
        outcome = applied.item_outcomes.get(row.index)
        row.outcome = outcome.status if outcome else ActionResult.SKIPPED
        row.message = outcome.message if outcome else "not applied"
    PlanItem.objects.bulk_update(rows, ["outcome", "message"])


def _target_outcomes(desired: list[Target], items: list[DiffItem], broken: dict[str, TargetOutcome],
                     applied: _Applied | None) -> dict[str, TargetOutcome]:
    """Per target: failed/unreachable when observe or apply said so or one of its items failed; else ok."""
    out: dict[str, TargetOutcome] = {}
    failed_items: dict[str, list[str]] = defaultdict(list)
    changed: dict[str, int] = defaultdict(int)
    if applied is not None:
        for index, outcome in applied.item_outcomes.items():
            target = items[index].target
            if outcome.status == "failed":
                failed_items[target].append(f"{items[index].resource}: {outcome.message}".strip())
            elif outcome.status == "ok":
                changed[target] += 1
    for t in desired:
        given = (applied.target_outcomes.get(t.name) if applied else None)
        if t.name in broken:
            out[t.name] = broken[t.name]
        elif given is not None and given.status != "ok":
            out[t.name] = given
        elif failed_items.get(t.name):
            out[t.name] = TargetOutcome(t.name, "failed", message="; ".join(failed_items[t.name])[:2000])
        else:
            out[t.name] = TargetOutcome(t.name, "ok", changed=changed.get(t.name, 0))
    return out


def _target_summary(target: Target, items: list[DiffItem], outcomes: dict[str, TargetOutcome]) -> dict[str, Any]:
    outcome = outcomes.get(target.name)
    return {"changes": sum(1 for i in items if i.target == target.name),
            "status": outcome.status if outcome else "ok", "message": outcome.message if outcome else ""}


def _store_plan(run: ReconcileRun, reconciler: Reconciler, items: list[DiffItem], fp: str, targets: int) -> Plan:
    plan = Plan.objects.create(reconciler=run.reconciler, scope=run.scope, options=run.options or {},
                               fingerprint=fp, created_by=run.user, tenant_id=run.tenant_id, targets=targets)
    PlanItem.objects.bulk_create(
        PlanItem(plan=plan, index=i, ci_id=item.ci_id, target=item.target[:200], operation=item.operation,
                 resource=item.resource[:300], diff=item.diff, data=item.data)
        for i, item in enumerate(items)
    )
    ReconcileRun.objects.filter(pk=run.pk).update(plan=plan)
    return plan


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

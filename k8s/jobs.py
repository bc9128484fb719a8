"""The Kubernetes domain's jobs, so clusters are verified and discovered on schedules from the CMDB.

- ``k8s.verify``: a fresh plan of the managed namespaces (the servers' own dry run, nothing applied) recorded
  as each namespace's :class:`~k8s.models.NamespaceStatus` (drift left, conflicts, quota hard/used as the server
  reports them, the error when a cluster could not be reached), which the metrics and alert rules read.  A
  reconcile dry run (``reconcile.run`` with ``dry_run``) rolls its writes back, so it cannot keep that status
  current between applies; this job does.
- ``k8s.discover``: nodes, namespaces, workloads and images back into the CMDB (:mod:`k8s.inventory`).

Both fail (after recording what they could) when a cluster could not be reached, naming it, so the job
list shows the problem; drift itself is a finding, not a failure.  Schedule examples
(``/api/jobs/schedules/``)::

    {"name": "Kubernetes verify", "job_name": "k8s.verify", "cron": "*/15 * * * *", "kwargs": {"scope": "all"}}
    {"name": "Kubernetes discovery", "job_name": "k8s.discover", "cron": "40 * * * *", "kwargs": {}}
"""

from __future__ import annotations

from typing import Any

from cmdb.jobs.registry import JobContext, job


def _unknown(kwargs: dict[str, Any], allowed: set[str]) -> dict[str, str]:
    return {key: f"Unknown argument; use {', '.join(sorted(allowed))}." for key in kwargs if key not in allowed}


def verify_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = _unknown(kwargs, {"scope"})
    scope = kwargs.get("scope", "all")
    if not isinstance(scope, str):
        return {**errors, "scope": "Give a scope such as all, cluster:<name> or tenant:<slug>."}
    from .desired import managed_namespaces

    try:
        managed_namespaces(scope=scope).exists()
    except ValueError as exc:
        errors["scope"] = str(exc)
    return errors


def discover_kwargs_errors(kwargs: dict[str, Any]) -> dict[str, str]:
    errors = _unknown(kwargs, {"clusters"})
    clusters = kwargs.get("clusters")
    if clusters is not None and (not isinstance(clusters, list) or not all(isinstance(c, str) for c in clusters)):
        errors["clusters"] = "Give a list of cluster names (or leave it out for every cluster)."
    return errors


@job("k8s.verify", validate=verify_kwargs_errors)
def verify_job(ctx: JobContext, *, scope: str = "all") -> dict[str, Any]:
    """Plan the managed namespaces in ``scope`` and record what is left as their sync status."""
    from . import sync

    plans = sync.plan(user=ctx.job.user, scope=scope)
    recorded = sync.record_status(plans)
    failed = []
    for cluster_plan in plans:
        if cluster_plan.error:
            failed.append(cluster_plan.error)
            ctx.log(cluster_plan.error, level="error")
            continue
        drift = len(cluster_plan.changes)
        conflicts = len(cluster_plan.items) - drift
        ctx.log(f"cluster {cluster_plan.cluster} ({cluster_plan.served_version}): {len(cluster_plan.namespaces)} "
                f"namespaces, {drift} changes pending, {conflicts} conflicts, {cluster_plan.calls['list']} LISTs")
    if failed:
        raise RuntimeError("; ".join(failed))
    return {"clusters": len(plans), "namespaces": recorded,
            "drift": sum(len(p.changes) for p in plans),
            "conflicts": sum(len(p.items) - len(p.changes) for p in plans)}


@job("k8s.discover", validate=discover_kwargs_errors)
def discover_job(ctx: JobContext, *, clusters: list[str] | None = None) -> dict[str, Any]:
    """Record every cluster's (or the named clusters') nodes, namespaces, workloads and images."""
    from .inventory import discover

    results = discover(clusters=clusters, user=ctx.job.user)
    for result in results:
        ctx.log(result.line(), level="error" if result.error else "info")
    failed = [r.error for r in results if r.error]
    if failed:
        raise RuntimeError("; ".join(failed))
    return {r.cluster: dict(r.counts) for r in results}

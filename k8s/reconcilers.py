"""The ``k8s`` reconciler: a thin adapter from the reconcile framework to :mod:`k8s.sync`.

Targets are the managed namespaces in scope (``<cluster>/<namespace>``, with their CI ids, so the
framework's permission gate applies).  ``observe`` asks the servers for a plan (the plan is made
by the server's dry run, so it is part of observing); ``plan`` turns its items into the
framework's diff items; ``apply`` carries them out; deletions only when ``CMDB_K8S_PRUNE`` is on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from django.conf import settings

from cmdb.reconcile.base import DiffItem, Reconciler, Target, TargetOutcome, register

from . import sync
from .desired import managed_namespaces
from .models import Cluster, Namespace


def _target(item: sync.PlanItem) -> str:
    return f"{item.cluster}/{item.namespace or item.name}"


@register
class KubernetesReconciler(Reconciler):
    name = "k8s"

    def desired(self, scope: str) -> list[Target]:
        self._unrestricted = self.user is None and scope in ("", "all")
        action = "view" if self.dry_run else "change"
        self._targets = [Target(name=f"{ns.cluster.name}/{ns.name}", ci_id=ns.ci_id)
                         for ns in managed_namespaces(user=self.user, scope=scope, action=action)]
        return self._targets

    def observe(self, desired: list[Target]) -> list[sync.ClusterPlan]:
        ids = [t.ci_id for t in desired]
        namespaces = Namespace.objects.filter(ci_id__in=ids).select_related(
            "cluster", "service", "tenant", "owner", "service__owner")
        return sync.plan(namespaces=namespaces, scope="all" if self._unrestricted else "selected", user=self.user)

    def plan(self, desired: list[Target], observed: list[sync.ClusterPlan]) -> list[DiffItem]:
        return [DiffItem(operation=item.action, target=_target(item), resource=f"{item.kind} {item.name}",
                         diff=item.diff, ci_id=item.ci_id, data=asdict(item))
                for cluster_plan in observed for item in cluster_plan.changes]

    def unhealthy(self, observed: list[sync.ClusterPlan]) -> list[TargetOutcome]:
        failed = {p.cluster: p.error for p in observed if p.error}
        bad = [TargetOutcome(t.name, "unreachable", message=failed[t.name.split("/")[0]])
               for t in self._targets if t.name.split("/")[0] in failed]
        return bad + [TargetOutcome(_target(item), "failed", message=item.error)
                      for p in observed for item in p.items if item.failed]

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[TargetOutcome]:
        clusters = dict(Cluster.objects.values_list("name", "pk"))
        plans: dict[str, sync.ClusterPlan] = {}
        where: dict[tuple[str, str], str] = {}
        for diff_item in items:
            item = sync.PlanItem(**diff_item.data)
            plans.setdefault(item.cluster, sync.ClusterPlan(item.cluster, clusters[item.cluster])).items.append(item)
            where[(item.cluster, item.target)] = _target(item)
        outcomes: dict[str, list[sync.ItemOutcome]] = defaultdict(list)
        prune = bool(getattr(settings, "CMDB_K8S_PRUNE", False))
        for outcome in sync.apply_plan(list(plans.values()), prune=prune):
            outcomes[where.get((outcome.cluster, outcome.target), outcome.target)].append(outcome)
        return [TargetOutcome(target, "failed" if any(o.status == "failed" for o in done) else "ok",
                              changed=sum(o.status == "ok" for o in done),
                              message="; ".join(f"{o.target}: {o.message}" for o in done if o.status != "ok"))
                for target, done in outcomes.items()]

    def verify(self, desired: list[Target]) -> list[DiffItem]:
        """A fresh plan, recorded as each namespace's sync status (drift left, quota as the server reports it)."""
        observed = self.observe(desired)
        sync.record_status(observed)
        return self.plan(desired, observed)

    _unrestricted: Any = False
    _targets: list[Target] = []  # replaced per run by desired()

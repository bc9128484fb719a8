"""The ``k8s`` reconciler: a thin adapter from the reconcile framework to :mod:`k8s.sync`.

- kinds: ``k8s.namespace``; the framework resolves the scope (``all``, ``name:``, ``tenant:``,
  ``ci:``, ...) to namespace CIs the requester may view (dry run) or change (apply);
- desired: the *managed* namespaces among them, as targets ``<cluster>/<namespace>``;
- observe: :func:`k8s.sync.plan`, whose plan is the servers' own dry run of a server-side apply
  (so planning is part of observing); it changes nothing on the clusters;
- plan: one item per object to create, update or delete, plus one ``conflict``/``error`` item per
  object the server refused (the message names the other field manager and the field); those are
  never forced: apply reports them as failed, and their namespace counts as failed already in a dry run;
- apply: exactly the stored items through :func:`k8s.sync.apply_plan`, one outcome per item; delete
  items only with the ``prune`` option (default off), otherwise they end as skipped;
- writeback and verify record each planned namespace's :class:`~k8s.models.NamespaceStatus`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from cmdb.reconcile.base import DiffItem, ItemOutcome, Option, Reconciler, Target, TargetOutcome, register
from cmdb.reconcile.scope import Selection

from . import sync
from .desired import managed_namespaces, with_relations
from .models import Cluster, Namespace

KIND = "k8s.namespace"


def _target(item: sync.PlanItem) -> str:
    return f"{item.cluster}/{item.namespace or item.name}"


@register
class KubernetesReconciler(Reconciler):
    """Managed namespaces and their objects on their clusters (see the module docstring)."""

    name = "k8s"
    summary = "Applies managed namespaces (quota, limits, role bindings, network policies) by server-side apply"
    kinds = (KIND,)
    options = (
        Option("prune", bool, False, "Delete objects of ours the CMDB no longer wants (namespaces in scope only)"),
    )

    def desired(self, selection: Selection) -> list[Target]:
        # Pruning beyond the namespaces in scope (deleted namespaces) only for an unrestricted "all".
        self._unrestricted = self.user is None and selection.scope.strip() in ("", "all")
        return [Target(name=f"{ns.cluster.name}/{ns.name}", ci_id=ns.ci_id)
                for ns in managed_namespaces(ci_ids=selection.ids_of(KIND))]

    def observe(self, desired: list[Target]) -> list[sync.ClusterPlan]:
        namespaces = with_relations(Namespace.objects.filter(managed=True, ci_id__in=[t.ci_id for t in desired])
                                    ).order_by("cluster", "name")
        return sync.plan(namespaces=namespaces, scope="all" if self._unrestricted else "selected", user=self.user)

    def plan(self, desired: list[Target], observed: list[sync.ClusterPlan]) -> list[DiffItem]:
        return [DiffItem(operation=item.action, target=_target(item), resource=f"{item.kind} {item.name}",
                         diff=item.error if item.failed else item.diff, ci_id=item.ci_id, data=asdict(item))
                for cluster_plan in observed for item in cluster_plan.items]

    def unhealthy(self, observed: list[sync.ClusterPlan]) -> list[TargetOutcome]:
        """Namespaces of a cluster that could not be planned (unreachable), and those with conflicts (failed)."""
        out: dict[str, TargetOutcome] = {}
        refused: dict[str, list[str]] = defaultdict(list)
        for cluster_plan in observed:
            if cluster_plan.error:
                for namespace in cluster_plan.namespaces:
                    target = f"{cluster_plan.cluster}/{namespace}"
                    out[target] = TargetOutcome(target, "unreachable", message=cluster_plan.error)
            for item in cluster_plan.items:
                if item.failed:
                    refused[_target(item)].append(f"{item.kind} {item.name}: {item.error}")
        for target, messages in refused.items():
            out.setdefault(target, TargetOutcome(target, "failed", message="; ".join(messages)[:2000]))
        return list(out.values())

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[ItemOutcome | TargetOutcome]:
        clusters = dict(Cluster.objects.values_list("name", "pk"))
        plans: dict[str, sync.ClusterPlan] = {}
        where: dict[tuple[str, str], list[int]] = defaultdict(list)
        results: list[ItemOutcome | TargetOutcome] = []
        for index, diff_item in enumerate(items):
            item = sync.PlanItem(**diff_item.data)
            if item.cluster not in clusters:
                results.append(ItemOutcome(index, "failed", f"cluster {item.cluster} is no longer in the CMDB"))
                continue
            plans.setdefault(item.cluster, sync.ClusterPlan(item.cluster, clusters[item.cluster])).items.append(item)
            where[(item.cluster, item.target)].append(index)
        cluster_failed: dict[str, str] = {}
        for outcome in sync.apply_plan(list(plans.values()), prune=bool(self.option("prune"))):
            indices = where.get((outcome.cluster, outcome.target))
            if indices:
                results.append(ItemOutcome(indices.pop(0), outcome.status, outcome.message))
            else:  # the cluster as a whole failed (e.g. its token could not be read): all its items did
                cluster_failed[outcome.cluster] = outcome.message
        results += [ItemOutcome(index, "failed", cluster_failed[cluster])
                    for (cluster, _target_name), indices in where.items() if cluster in cluster_failed
                    for index in indices]
        return results

    def writeback(self, desired: list[Target], observed: list[sync.ClusterPlan]) -> None:
        """Each planned namespace's status as observed (the framework rolls this back in a dry run; an
        apply run's verify records it again after applying)."""
        sync.record_status(observed)

    def verify(self, desired: list[Target]) -> list[DiffItem]:
        """A fresh plan, recorded as each namespace's sync status (drift left, quota as the server reports it).

        It writes to the CMDB outside ``writeback`` because writeback only ever sees the observation made
        *before* apply; the framework calls verify only after a real apply, never in a dry run."""
        observed = self.observe(desired)
        sync.record_status(observed)
        return self.plan(desired, observed)

    _unrestricted: bool = False

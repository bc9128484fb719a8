"""Kubernetes metrics for /metrics: per managed namespace its quota as the server reports it (hard and used),
the drift and conflicts the last verify left, when that was; per cluster the version it serves.

What discovery (:mod:`k8s.inventory`) found is counted too: nodes per cluster, linked to a recorded machine
or not, stale or not; workloads per namespace and kind, stale or not; and the unmanaged namespaces one by
one (with their CI id, so an alert opens the incident on the orphan).  Counts are aggregated in SQL
(``GROUP BY``), so the whole collector costs five queries whatever the cluster's size, each scoped to the
caller's tenants (:func:`restrict`).  Quantities are in base units (cores, bytes, counts), as Prometheus
wants them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q
from prometheus_client.core import GaugeMetricFamily, Metric

from cmdb.users.permissions import restrict

from .models import Cluster, Namespace, NamespaceStatus, Node, Workload

LABELS = ["ci_id", "cluster", "namespace", "tenant", "service"]


def _quantity(value: Any) -> float | None:
    from kubernetes.utils import parse_quantity

    try:
        return float(parse_quantity(value))
    except (ValueError, TypeError):
        return None


def collect(user: Any = None) -> Iterable[Metric]:
    statuses = NamespaceStatus.objects.select_related("namespace__cluster", "namespace__tenant", "namespace__service")
    clusters = Cluster.objects.all()
    if user is not None:
        statuses, clusters = restrict(statuses, user), restrict(clusters, user)
    hard = GaugeMetricFamily("cmdb_k8s_namespace_quota_hard", "A managed namespace's ResourceQuota limit as the "
                             "server reports it (status.hard), in base units.", labels=[*LABELS, "resource"])
    used = GaugeMetricFamily("cmdb_k8s_namespace_quota_used", "A managed namespace's ResourceQuota usage as the "
                             "server reports it (status.used), in base units.", labels=[*LABELS, "resource"])
    drift = GaugeMetricFamily("cmdb_k8s_namespace_drift_items", "Objects of a managed namespace that still differ "
                              "from the CMDB after the last verify.", labels=LABELS)
    conflicts = GaugeMetricFamily("cmdb_k8s_namespace_conflict_items", "Objects of a managed namespace whose fields "
                                  "another field manager holds (not forced).", labels=LABELS)
    synced = GaugeMetricFamily("cmdb_k8s_namespace_last_sync_timestamp_seconds", "When the reconciler last verified "
                               "a managed namespace.", labels=LABELS)
    failing = GaugeMetricFamily("cmdb_k8s_namespace_sync_error", "1 when the last verify could not reach the "
                                "namespace's cluster.", labels=LABELS)
    for status in statuses.order_by("namespace_id"):
        ns = status.namespace
        labels = [str(ns.ci_id), ns.cluster.name, ns.name, ns.tenant.slug if ns.tenant_id else "",
                  ns.service.slug if ns.service_id else ""]
        for family, values in ((hard, status.quota_hard), (used, status.quota_used)):
            for resource, quantity in sorted((values or {}).items()):
                number = _quantity(quantity)
                if number is not None:
                    family.add_metric([*labels, resource], number)
        drift.add_metric(labels, status.drift_items)
        conflicts.add_metric(labels, status.conflicts)
        synced.add_metric(labels, status.last_sync.timestamp())
        failing.add_metric(labels, 1 if status.error else 0)
    yield from (hard, used, drift, conflicts, synced, failing)
    info = GaugeMetricFamily("cmdb_k8s_cluster_info", "A registered Kubernetes cluster and the version it serves.",
                             labels=["ci_id", "cluster", "served_version"])
    for ci_id, name, version in clusters.order_by("name").values_list("ci_id", "name", "served_version"):
        info.add_metric([str(ci_id), name, version], 1)
    yield info
    yield from discovered(user)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def discovered(user: Any = None) -> Iterable[Metric]:
    """Families for what discovery recorded; three grouped queries (nodes, workloads, unmanaged namespaces)."""
    nodes, workloads = Node.objects.all(), Workload.objects.all()
    unmanaged = Namespace.objects.filter(unmanaged=True)
    if user is not None:
        nodes, workloads, unmanaged = restrict(nodes, user), restrict(workloads, user), restrict(unmanaged, user)
    node_family = GaugeMetricFamily(
        "cmdb_k8s_cluster_nodes", "Nodes discovery recorded per cluster; linked: tied to a recorded device or VM; "
        "stale: seen before, missing from listings for K8S_STALE_AFTER.", labels=["cluster", "linked", "stale"])
    rows = (nodes.values("cluster__name", "stale")
            .annotate(total=Count("id"), linked=Count("id", filter=Q(device__isnull=False)
                                                      | Q(virtual_machine__isnull=False)))
            .order_by("cluster__name", "stale"))
    for row in rows:
        stale = _flag(row["stale"])
        node_family.add_metric([row["cluster__name"], "true", stale], row["linked"])
        node_family.add_metric([row["cluster__name"], "false", stale], row["total"] - row["linked"])
    yield node_family

    workload_family = GaugeMetricFamily(
        "cmdb_k8s_namespace_workloads", "Workloads discovery recorded per namespace and kind; stale: seen before, "
        "missing from listings for K8S_STALE_AFTER.", labels=["ci_id", "cluster", "namespace", "kind", "stale"])
    rows = (workloads.values("namespace__ci_id", "cluster__name", "namespace__name", "kind")
            .annotate(total=Count("id"), stale=Count("id", filter=Q(stale=True)))
            .order_by("cluster__name", "namespace__name", "kind"))
    for row in rows:
        labels = [str(row["namespace__ci_id"]), row["cluster__name"], row["namespace__name"], row["kind"]]
        workload_family.add_metric([*labels, "false"], row["total"] - row["stale"])
        workload_family.add_metric([*labels, "true"], row["stale"])
    yield workload_family

    orphan = GaugeMetricFamily(
        "cmdb_k8s_unmanaged_namespace", "A namespace found on a cluster that the CMDB does not declare (1), still "
        "present (stale ones are left out).", labels=["ci_id", "cluster", "namespace", "tenant"])
    for ci_id, cluster, name, tenant in (unmanaged.filter(stale=False).order_by("cluster__name", "name")
                                         .values_list("ci_id", "cluster__name", "name", "tenant__slug")):
        orphan.add_metric([str(ci_id), cluster, name, tenant or ""], 1)
    yield orphan
